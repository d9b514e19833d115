"""The composition root and the process roles: what each `clinic` process builds and runs
(the API's container, the log followers, the relay, the reminders, the notifier)."""
