"""structlog JSON logs: one object per line on stderr, in every `clinic` process, with the
request id bound per request and the trace and span ids of the current span, if any."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog
from opentelemetry import trace

PHI_KEYS = frozenset({"given_name", "family_name", "name", "birth_date", "email", "phone",
                      "reason", "note", "code", "address", "hold_secret", "access_token",
                      "authorization", "password", "body", "token", "secret", "ip",
                      "client", "to", "subject_line"})
EMAIL = re.compile(r"[^@\s\"']+@[^@\s\"']+\.[A-Za-z]{2,}")
BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
# Credentials in URLs (a telehealth join link: `?token=...`) and any JWT in free text.
URL_TOKEN = re.compile(r"(?i)(\b[\w.-]*token=)[^&\s\"'#]+")
JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
# International (+1 555 …), (555) 010-2233 and 555-010-2233 / 555.010.2233 forms; not ids,
# dates or durations.
PHONE = re.compile(r"(?<![\w-])(?:\+\d[\d ()\-]{7,}\d|\(\d{3}\)\s?\d{3}-\d{4}"
                   r"|\d{3}[-.]\d{3}[-.]\d{4})(?![\w-])")


def drop_phi(_logger: object, _method: str, event: MutableMapping[str, Any]
             ) -> MutableMapping[str, Any]:
    """Logs carry ids, never PHI: known PHI keys are masked at any depth; email addresses,
    bearer tokens, URL tokens, JWTs and phone numbers in free text are redacted."""
    for key in list(event):
        event[key] = _clean(key, event[key])
    return event


def redact_text(value: str) -> str:
    """Email addresses, bearer tokens, URL tokens, JWTs and phone numbers masked (also used
    for span attributes: infra/observability/spans.py)."""
    lowered = value.lower()  # cheap tests first: most text has no address and no token
    if "@" in value:
        value = EMAIL.sub("[email]", value)
    if "bearer" in lowered:
        value = BEARER.sub("[token]", value)
    if "token=" in lowered:
        value = URL_TOKEN.sub(r"\1[token]", value)
    if "eyJ" in value:
        value = JWT.sub("[token]", value)
    return PHONE.sub("[phone]", value)


def _clean(key: object, value: Any) -> Any:
    if isinstance(key, str) and key.lower() in PHI_KEYS:
        return "[redacted]"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _clean(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(None, v) for v in value]
    return value


def add_trace_ids(_logger: object, _method: str, event: MutableMapping[str, Any]
                  ) -> MutableMapping[str, Any]:
    """`trace_id` and `span_id` (W3C hex) of the span current where the line is logged."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def configure_logging(level: str = "INFO") -> None:
    """JSON on stderr for structlog and standard-library loggers alike (readable lines when
    stderr is a terminal). An unknown level name falls back to INFO."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        drop_phi,  # last: also covers formatted exceptions
    ]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # People read a terminal; machines read everything else (JSON lines).
            structlog.dev.ConsoleRenderer(colors=False) if sys.stderr.isatty()
            else structlog.processors.JSONRenderer(serializer=_dumps),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our own middleware logs each request (with its id); uvicorn's access line would not.
    logging.getLogger("uvicorn.access").disabled = True
    # The web UI's in-process calls are logged by that middleware too; httpx's own line
    # would repeat each of them.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _dumps(obj: object, **_: object) -> str:
    return orjson.dumps(obj, default=str).decode()
