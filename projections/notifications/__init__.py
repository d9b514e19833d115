"""What email each message calls for and what it says: the notifier's decisions. Delivering
it (SMTP, the development mailbox, the Kafka consumer) is infra/mail."""
