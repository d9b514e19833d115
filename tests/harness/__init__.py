"""Real servers for the test session: PostgreSQL, Redis and Kafka on loopback."""
