"""The browser tests' fixtures: one Chromium per session (Debian's, driven by Playwright, shared by
every browser test), the app served by waitress on a free port (`live_server`), pages in contexts
of their own (`open_page`, `page`), and a screenshot of every open page when a test fails.

Loaded as a plugin by tests/conftest.py (`pytest_plugins`)."""
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from waitress import create_server, wasyncore

from modules import create_app
from modules.extensions import db
from tests.support.app import base_config

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the tests skip (or fail under REQUIRE_BROWSER=1) with a clear reason
    sync_playwright = expect = None
    PlaywrightError = Exception

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"


def unavailable_reason():
    """Why the browser tests cannot run here, or None when they can."""
    if sync_playwright is None:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        return f"no chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    return None


def skip_or_fail(reason):
    if REQUIRE_BROWSER:
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def launch_chromium(playwright):
    # `playwright install` cannot download here: always Debian's chromium.
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class LiveServer:
    """`app` served by waitress on 127.0.0.1 and a free port, from a daemon thread."""

    def __init__(self, app):
        self.app = app
        self._map = {}
        self.server = create_server(app, map=self._map, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self._thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        # Close every socket from the loop's own thread, so that the loop ends with an empty map.
        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self._map))
        self._thread.join(timeout=5)
        self.server.task_dispatcher.shutdown(timeout=5)


# --- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """One Chromium for the whole session (per xdist worker); each test gets fresh contexts."""
    reason = unavailable_reason()
    if reason:
        skip_or_fail(reason)
    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright)
    except PlaywrightError as e:
        playwright.stop()
        skip_or_fail(f"chromium did not start: {e}")
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def live_server(browser, database_url):
    app = create_app(base_config(database_url))
    server = LiveServer(app)
    app.config["PUBLIC_URL"] = server.url  # links in messages point at this server
    server.start()
    yield server
    server.stop()
    with app.app_context():
        db.engine.dispose()


_servers = {}  # id(page) -> the live server it was opened on, while its test runs


def server_of(page):
    """The LiveServer a page from `open_page` talks to (its app, to write rows directly)."""
    return _servers[id(page)]


@pytest.fixture
def open_page(browser, live_server, request):
    """open_page() -> a page in a browser context of its own (its own cookies: one user)."""
    contexts, pages = [], []

    def _open():
        context = browser.new_context(base_url=live_server.url)
        # Actions and waits (not `expect`): 20 s, for a worker sharing two cores with another one.
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        pages.append((page, watch_console(page)))
        _servers[id(page)] = live_server
        return page

    yield _open
    if failed(request.node):
        save_artifacts(request.node, pages, request.config.rootpath / "test-artifacts")
    for page, _ in pages:
        _servers.pop(id(page), None)
    for context in contexts:
        context.close()
    # The strict CSP refuses inline script and style: a page that needed one is broken.
    refused = [line for _, console in pages for line in console if "Content Security Policy" in line]
    assert not refused, refused


@pytest.fixture
def page(open_page):
    return open_page()


# --- screenshots on failure -------------------------------------------------------------------

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def failed(item):
    return any(getattr(item, f"rep_{when}", None) is not None and getattr(item, f"rep_{when}").failed
               for when in ("setup", "call"))


def artifact_name(item):
    """`test_x[sqlite]` -> `test_x-sqlite`: a file name that needs no quoting."""
    return re.sub(r"[^\w.-]+", "-", item.name).strip("-")


def watch_console(page):
    """The page's script errors and console errors, as lines, for the artifacts of a failure."""
    lines = []

    def on_console(message):
        if message.type == "error":
            lines.append(f"console: {message.text} ({message.location.get('url', '')})")

    page.on("pageerror", lambda error: lines.append(f"pageerror: {error}"))
    page.on("console", on_console)
    return lines


def save_artifacts(item, pages, directory):
    """test-artifacts/<test>.png and .html for the first page, <test>-2.png ... for the others;
    `pages` is a list of (page, console lines)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    saved = []
    for number, (page, console) in enumerate(pages, start=1):
        if page.is_closed() or page.url == "about:blank":  # a user who only spoke to the API
            continue
        stem = artifact_name(item) + ("" if number == 1 else f"-{number}")
        try:
            page.screenshot(path=str(directory / f"{stem}.png"), full_page=True)
            (directory / f"{stem}.html").write_text(page.content(), encoding="utf-8")
            if console:
                (directory / f"{stem}.console.txt").write_text("\n".join(console) + "\n", encoding="utf-8")
            saved.append(directory / f"{stem}.png")
        except PlaywrightError as e:  # a crashed page must not hide the test's own failure
            (directory / f"{stem}.error.txt").write_text(f"{page.url}\n{e}\n", encoding="utf-8")
    return saved
