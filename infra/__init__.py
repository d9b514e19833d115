"""Adapters and wiring: settings, servers, HTTP app, CLI."""
