"""The one place Redis clients are built: CLINIC_REDIS_URL, plus TLS for a rediss:// URL.

A rediss:// URL makes redis-py speak TLS; the CA and client certificate come from
CLINIC_REDIS_TLS_* (or the shared CLINIC_TLS_CA_FILE). The server's certificate and host name
are always verified (docs/deployment.md).
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio

from infra.settings import Settings

SOCKET_TIMEOUT = 5.0


def redis_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `Redis.from_url` (sync and asyncio take the same ones)."""
    options: dict[str, Any] = {"socket_timeout": SOCKET_TIMEOUT}
    tls = settings.redis_client_tls()
    if tls is not None:
        options |= {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
        if tls.ca is not None:
            options["ssl_ca_certs"] = str(tls.ca)
        if tls.cert is not None and tls.key is not None:
            options |= {"ssl_certfile": str(tls.cert), "ssl_keyfile": str(tls.key)}
    return options


def _url(settings: Settings) -> str:
    if not settings.redis_url:
        raise RuntimeError("the Redis URL must be resolved (infra/wiring/servers.py)")
    return settings.redis_url


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(_url(settings), **redis_options(settings))


def async_redis_client(settings: Settings) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(_url(settings), **redis_options(settings))
