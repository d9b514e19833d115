"""Email for the notifier: message builders, and mailers that deliver them (SMTP, or the
development mailbox)."""
