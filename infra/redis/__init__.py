"""Redis adapters: holds, one-time codes, patient sessions, Idempotency-Key records, rate
limits."""
