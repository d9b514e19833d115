"""The event store: eventsourcing's PostgreSQL recorder with a single-trip insert, the mapper
that seals PHI per patient, the listener that wakes followers when the log grows, and the one
way to build the application."""
