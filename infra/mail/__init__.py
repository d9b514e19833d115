"""Delivering email: SMTP, the development mailbox, and `clinic notify` (the Kafka consumer
that asks projections/notifications what to send)."""
