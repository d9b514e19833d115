"""PHI encryption: key-encryption keys, per-patient data keys, sealed field envelopes."""
