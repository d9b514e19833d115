"""The deployment's roles as separate OS processes, started as the chart's containers start
them (`clinic serve --no-projectors`, `clinic project`, `clinic relay`, `clinic notify`), each
with the environment a pod gets; one can be SIGKILLed and started again like a restarted pod."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.embedded.process import free_port, stop_process, wait_until

CLINIC = [sys.executable, "-m", "infra.cli.main"]


def role_environment(database_url: str, redis_url: str, kafka_bootstrap: str,
                     smtp: tuple[str, int], extra: dict[str, str] | None = None
                     ) -> dict[str, str]:
    """What every pod gets (deploy/helm/clinic: the ConfigMap): external servers only, so
    no process starts an embedded one; topics created with replication 3."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLINIC_")}
    return inherited | {
        "CLINIC_DATABASE_URL": database_url, "CLINIC_REDIS_URL": redis_url,
        "CLINIC_KAFKA_BOOTSTRAP": kafka_bootstrap, "CLINIC_KAFKA_REPLICATION": "3",
        "CLINIC_SMTP_HOST": smtp[0], "CLINIC_SMTP_PORT": str(smtp[1]),
        "CLINIC_SMTP_STARTTLS": "false", "CLINIC_NOTIFY_BACKOFF_SECONDS": "0.2",
        "CLINIC_LOG_LEVEL": "INFO", **(extra or {})}


@dataclass
class Role:
    """One replica: `clinic <args>`, its log in `folder`, its own data folder (a pod's
    emptyDir). `starts` counts the processes it has been, so each keeps its own log;
    `program` is what runs the arguments (`clinic` unless a test wraps it)."""

    name: str
    args: list[str]
    env: dict[str, str]
    folder: Path
    port: int | None = None
    starts: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    program: list[str] = field(default_factory=lambda: list(CLINIC))

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}-{self.starts}.log"

    def start(self) -> Role:
        self.starts += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        env = self.env | {"CLINIC_DATA_DIR": str(self.folder / f"{self.name}-data")}
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([*self.program, *self.args], env=env, stdout=log,
                                         stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        """A replica that exited by itself is a failure (the kills set proc to None)."""
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to PostgreSQL, Kafka or SMTP."""
        assert self.proc is not None, f"{self.name} is not running"
        self.check()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None

    def terminate(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None

    def active_workers(self) -> set[str]:
        """The followers this process took the advisory lock for ("worker active" in its
        JSON log): the active instance's names, empty for a standby."""
        found: set[str] = set()
        if self.proc is None or not self.log.exists():
            return found
        for line in self.log.read_text(errors="replace").splitlines():
            if '"worker active"' in line:
                try:
                    found.add(str(json.loads(line)["worker"]))
                except (ValueError, KeyError):
                    continue
        return found

    def ready(self) -> bool:
        """An API replica answers /readyz (the chart's readiness probe)."""
        assert self.port is not None
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


def api_role(name: str, env: dict[str, str], folder: Path) -> Role:
    port = free_port()
    return Role(name, ["serve", "--no-projectors", "--host", "127.0.0.1", "--port", str(port)],
                env, folder, port)


def migrate(env: dict[str, str], folder: Path) -> None:
    """The chart's schema Job: `clinic migrate` once before the replicas start."""
    done = subprocess.run([*CLINIC, "migrate"], env=env | {"CLINIC_DATA_DIR": str(folder)},
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"clinic migrate failed:\n{done.stdout}\n{done.stderr[-3000:]}")


def wait_ready(role: Role, timeout: float = 120.0) -> None:
    def ready() -> bool:
        role.check()
        return role.ready()

    wait_until(ready, timeout, f"{role.name} answering /readyz", log=role.log)
