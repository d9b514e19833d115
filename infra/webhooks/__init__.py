"""Webhook delivery: signing (Standard Webhooks), the retry schedule, the HTTPS sender and
the dispatcher worker (docs/webhooks.md)."""
