"""`clinic serve` and `clinic demo`: the API on the embedded default or configured servers."""

from __future__ import annotations

import argparse
import signal

from infra.cli.errors import CliError, load_settings
from infra.crypto.kek import KeyEncryptionKeyError
from infra.eventstore.application import check_keys
from infra.http import workers
from infra.observability.logging import configure_logging
from infra.observability.metrics import enable_multiprocess
from infra.observability.tracing import configure_tracing
from infra.settings import Settings
from infra.wiring.container import Container
from infra.wiring.demo import demo_sign_ins, seed_demo
from infra.wiring.followers import FollowerHost, every_follower
from infra.wiring.servers import Runtime


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text in (
        ("serve", "serve the HTTP API (and UI) until Ctrl-C or SIGTERM"),
        ("demo", "seed demo clinics, providers and open slots, then serve"),
    ):
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
        cmd.add_argument("--port", type=int, default=8000, help="port (default 8000)")
        cmd.add_argument("--workers", type=int, default=1, help="API worker processes")
        cmd.add_argument("--no-projectors", action="store_true",
                         help="do not run the projectors, relay and reminder scheduler here "
                         "(run `clinic project` and `clinic relay`)")
        cmd.set_defaults(handler=run_server, seed=name == "demo")


def run_server(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    configure_tracing("serve")  # API workers of --workers N configure their own
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal: these
    # handlers turn it into an exception so that the runtime stops every embedded server.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host: FollowerHost | None = None
    try:
        with Runtime(settings) as resolved:
            if args.workers > 1:  # one scrape of /metrics must see every worker and this one
                enable_multiprocess(resolved.resolved_data_dir() / "metrics")
            try:
                check_keys(resolved)
            except KeyEncryptionKeyError as exc:
                raise CliError(str(exc)) from None
            if args.seed:
                _seed(resolved, args)
            if not args.no_projectors:
                host = FollowerHost(resolved, every_follower(resolved)).start()
            try:
                _serve(args, resolved)
            finally:
                if host is not None:
                    host.stop()
    except Stopped:
        pass
    return 0


def _seed(settings: Settings, args: argparse.Namespace) -> None:
    container = Container.build(settings)
    try:
        seed_demo(container.use_cases.directory)
        sign_ins = demo_sign_ins(container.tokens.issue)
    finally:
        container.close()
    print(welcome(f"http://{args.host}:{args.port}", sign_ins), flush=True)


def welcome(base: str, sign_ins: list[tuple[str, str]]) -> str:
    """The first minute of the demo, in plain words (stdout; the logs go to stderr)."""
    people = "\n".join(f"    {who}:\n      {token}" for who, token in sign_ins)
    return f"""
Clinic demo is starting. In a moment:

  Book a visit:    {base}/   (demo clinics in four time zones, open times this week)
  Sign-in codes:   emails go to the development mailbox: run `./run mailbox` in another
                   terminal to read the 6-digit code (and confirmations, reminders)
  Staff pages:     {base}/staff   paste one of these development tokens (12 hours):
{people}
  The API:         {base}/docs

Ctrl-C stops everything.
"""


class Stopped(Exception):
    """SIGINT or SIGTERM arrived: leave every `with` block in order."""


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    workers.serve(args.host, args.port, args.workers, workers.ssl_options(settings))
