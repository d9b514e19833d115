"""Projectors that follow the event log: read models, the Kafka relay, reminders."""
