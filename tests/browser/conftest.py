"""Playwright driving Debian's Chromium against a live server, real workers, RabbitMQ and S3.

Playwright cannot download its own browser here; `make test` installs Debian's
chromium (scripts/ensure-system.sh) and these tests point Playwright at it.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls the
# tests make between browser steps are still plain synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Flags from the machine notes: without the background-networking ones Chromium keeps
# trying to reach Google, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (WITH_BROWSER=1).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def signed_in(browser, live_server, client):
    """A browser page signed in as `user`, on the live server."""

    def open_as(user, **options):
        """`options` for the browser context: a phone's viewport, touch (has_touch)..."""
        client.force_login(user)
        context = browser.new_context(
            base_url=live_server.url, **{"viewport": {"width": 1200, "height": 900}, **options}
        )
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(30_000)
        opened.append(context)
        return page

    opened = []
    yield open_as
    for context in opened:
        context.close()


@pytest.fixture
def static_site(tmp_path):
    """Serves a page and the files it loads from a plain static site on its own port: another
    origin than the platform's, as a customer's site that embeds a player. Returns its URL."""
    servers: list[ThreadingHTTPServer] = []

    def serve(page: str, files: dict[str, Path]) -> str:
        root = tmp_path / f"site{len(servers)}"
        root.mkdir()
        (root / "index.html").write_text(page)
        for name, source in files.items():
            shutil.copy(source, root / name)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def screenshot(page, name: str) -> None:
    """Saved under docs/screenshots/ when SAVE_SCREENSHOTS=1 (how the README's pictures are made)."""
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
