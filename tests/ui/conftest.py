"""The web UI in a real browser: the app served by uvicorn on the test's servers, Debian's
Chromium driven by Playwright (never a downloaded browser: decision 0066), axe-core for
accessibility, screenshots into docs/ui/."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from infra.embedded.process import free_port
from infra.http.app import create_app
from infra.wiring.container import Container
from infra.wiring.followers import PROJECTORS, FollowerHost
from tests.harness.servers import until_ready

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
# As root, without the sandbox; no background traffic (nothing outside is reachable here).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def live(container: Container) -> Iterator[str]:
    """The whole app (API and pages) on a free port, with the projectors beside it as
    `clinic serve` runs them; its base URL."""
    followers = FollowerHost(container.settings, PROJECTORS).start()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(container), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    until_ready(base, pause=0.05)
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    followers.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live, viewport=DESKTOP, timezone_id="America/Denver")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


def caught_up(container: Container, timeout: float = 20) -> None:
    """Wait until every read model has the whole event log (the projectors run beside the
    live app, as in `clinic serve`)."""
    from infra.postgres.read_models import READ_MODELS

    head = container.app.recorder.max_notification_id() or 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with container.pool.connection() as conn:
            behind = [name for name in READ_MODELS if (conn.execute(
                f"SELECT coalesce(max(notification_id), 0) FROM {name}_tracking")
                .fetchone() or (0,))[0] < head]
        if not behind:
            return
        time.sleep(0.05)
    raise AssertionError(f"read models behind after {timeout} s: {behind}")


def accessible(page: Page, where: str) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    results = Axe().run(page)
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
           for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{where}: {bad}"


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    """A screenshot for the README (docs/ui/), written by the test run."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def new_page(browser: Browser, live: str, **options: Any) -> Page:
    context = browser.new_context(base_url=live, **{"viewport": DESKTOP, **options})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    return opened


def tab_to(page: Page, target: Locator, presses: int = 80) -> None:
    """Press Tab until `target` has the focus (it must be reachable by keyboard)."""
    for _ in range(presses):
        if target.evaluate("e => e === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} is not reachable with the Tab key")
