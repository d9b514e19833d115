"""The write side: command models, application services, the HTTP command router."""
