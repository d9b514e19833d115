"""Redis adapters: one-time codes, rate limits, holds, idempotency records."""
