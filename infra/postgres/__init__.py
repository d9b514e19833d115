"""PostgreSQL adapters beside the event store: read-model writers (with their tracking
position in the same transaction), the look-ups the use cases' ports ask for, the access
audit trail."""
