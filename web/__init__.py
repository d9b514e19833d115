"""The web UI: server-rendered pages over the public HTTP API (decision 0066).

A door like infra/http, fhir or the CLI: every page calls the same HTTP endpoints any client
calls (web/api.py), with the signed-in person's own bearer, so it can never do what the API
forbids. No build step: Jinja2 templates, one stylesheet and two small scripts, all served
from web/static by the app itself.
"""
