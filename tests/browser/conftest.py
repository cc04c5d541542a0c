"""Real-browser fixtures: the collector and a host site in server processes, and Chromium.

The collector runs exactly as deployed (``create_app()`` under Werkzeug, configured by
``CLEARGIF_*`` environment variables) in a subprocess; the host pages come from a second
process that can send a CSP header. Debian's Chromium is driven by Playwright; without
either the tests skip, unless ``CLEARGIF_REQUIRE_ALL=1`` makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_or_skip

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-gpu"]
SKIP_REASON = ("Chromium or Playwright missing: apt-get install chromium and "
               "pip install -e '.[test]' to run the browser tests")
SCREENSHOTS = REPO / "test-output" / "screenshots"
#: Every wait in these tests is bounded by this (milliseconds).
TIMEOUT_MS = 5000
NONCE = "cleargif-test-nonce"
#: A host service with cookies, declared in the collector's registry (DESIGN 2).
SERVICES = [{"name": "Google Analytics", "purpose": "marketing", "cookies": ["_ga", "_ga_*"]}]

#: The host site: static files plus a CSP header under /csp/ and a slow path under /slow/.
SITE_SERVER = r"""
import sys, time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

root, port, csp = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Handler(SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        if self.path.startswith("/csp/"):
            self.send_header("Content-Security-Policy", csp)
        super().end_headers()

    def do_GET(self):
        if self.path.startswith("/slow/"):
            time.sleep(0.4)
        super().do_GET()

    def log_message(self, *args):
        pass

ThreadingHTTPServer.allow_reuse_address = True
ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=root)).serve_forever()
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15.0) -> None:
    """Wait until ``url`` answers 200, failing with the server's log if it dies or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            exc.close()
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    pytest.fail(f"{url} did not answer 200 within {timeout} s:\n{log.read_text()[-3000:]}")


class Process:
    """A server subprocess with its log in a file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT)
        return self.proc

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None


class Collector(Process):
    """The collector in its own process, restartable with another policy revision."""

    def __init__(self, data_dir: Path, site_port: int, log: Path) -> None:
        super().__init__(log)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.revision = 1
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")},
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "CLEARGIF_DATA_DIR": str(data_dir),
            "CLEARGIF_COOKIE_SECURE": "false",
            "CLEARGIF_ALLOWED_ORIGINS": json.dumps([f"http://localhost:{site_port}",
                                                    f"http://127.0.0.1:{site_port}"]),
            "CLEARGIF_SECRET_KEYS": json.dumps([secrets.token_urlsafe(32)]),
            "CLEARGIF_TOKEN_KEYS": json.dumps([secrets.token_urlsafe(32)]),
            "CLEARGIF_DEMO": "true",
            "CLEARGIF_SERVICES": json.dumps(SERVICES),
            "CLEARGIF_POLICY_URL": f"http://127.0.0.1:{site_port}/privacy.html",
            # Every browser test signs in from 127.0.0.1, more than 10 times a minute;
            # the sign-in limit itself is tested in tests/test_dashboard_views.py.
            "CLEARGIF_RATE_LIMITS": json.dumps({"login": "600/minute"}),
        }

    def start(self, revision: int = 1) -> None:
        self.revision = revision
        code = ("from collector import create_app; from werkzeug.serving import run_simple; "
                f"run_simple('127.0.0.1', {self.port}, create_app(), threaded=True)")
        proc = self.spawn([sys.executable, "-c", code],
                          {**self.env, "CLEARGIF_POLICY_REVISION": str(revision)})
        wait_http(f"{self.url}/healthz", proc, self.log)

    def events(self, **match: str) -> list[dict[str, Any]]:
        """Stored events whose columns match the SQL LIKE patterns given, read-only."""
        db = self.data_dir / "events.db"
        if not db.exists():
            return []
        assert all(re.fullmatch(r"[a-z_]+", column) for column in match)
        where = " AND ".join(f"{column} LIKE ?" for column in match) or "1"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            con.row_factory = sqlite3.Row
            rows = con.execute(f"SELECT * FROM events WHERE {where} ORDER BY id",
                               tuple(match.values())).fetchall()
            return [dict(r) for r in rows]
        finally:
            con.close()

    def wait_events(self, count: int, timeout: float = 5.0, **match: str) -> list[dict[str, Any]]:
        """Poll until at least ``count`` events match (beacons are asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.events(**match)
            if len(rows) >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


def page_html(collector: str, body: str, title: str = "host page", head: str = "",
              lang_attr: str = "") -> str:
    """A host page with the snippet tag, as a site owner would paste it."""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<script src="{collector}/static/js/cleargif.js"{lang_attr} defer></script>{head}'
            f'</head>\n<body>\n<h1>{title}</h1>\n<p><a href="#top">A link of the host page</a></p>'
            f"\n{body}\n</body></html>\n")


#: A host stylesheet that tries hard to restyle everything.
HOSTILE_CSS = """<style>
* { color: rgb(0, 128, 0) !important; font: 40px/3 serif !important; }
button { background: rgb(255, 0, 0) !important; display: block !important; }
div, h2, p { display: none !important; }
</style>"""


def write_site(root: Path, collector: str) -> None:
    """The host pages the tests load."""
    gated_body = """
<script src="/gtag.js"></script>
<script type="text/plain" data-consent="analytics">__order.push('A')</script>
<script type="text/plain" data-consent="analytics" data-src="/slow/b.js"></script>
<script type="text/plain" data-consent="marketing">__order.push('M');
document.cookie = '_ga=GA1.1.42; path=/'; document.cookie = '_ga_XYZ=GS1.1; path=/';</script>
<iframe data-consent="analytics" data-src="/frame.html?n=FA" title="analytics frame"></iframe>
<script type="text/plain" data-consent="analytics">__order.push('C')</script>
<iframe data-consent="marketing" data-src="/frame.html?n=FM" title="marketing frame"></iframe>
<script type="text/plain" data-consent="analytics marketing">__order.push('AM')</script>
<button type="button" data-cleargif="preferences">Privacy settings</button>
"""
    files = {
        "index.html": page_html(collector, "<p>A plain page.</p>"),
        "privacy.html": "<!doctype html><title>Privacy policy</title><p>The policy.</p>\n",
        "de.html": page_html(collector, "<p>Deutsch.</p>", lang_attr=' data-lang="de"'),
        "ar.html": page_html(collector, "<p>عربي.</p>", lang_attr=' data-lang="ar"'),
        "gated.html": page_html(collector, gated_body, "gated content"),
        "gtag.js": ("window.__order = []; window.__frames = []; window.dataLayer = [];\n"
                    "function gtag() { dataLayer.push(arguments); }\n"),
        "slow/b.js": "__order.push('B');\n",
        "frame.html": ("<!doctype html><p>frame</p>"
                       "<script src='/frame.js'></script>\n"),
        "frame.js": "parent.__frames.push(location.search.slice(3));\n",
        "spa/index.html": page_html(collector, "<p>A single-page app.</p>", "spa"),
        "csp/index.html": page_html(collector, f"""
<script src="/csp/app.js"></script>
<script type="text/plain" data-consent="analytics" nonce="{NONCE}">window.__inline = 'ran';</script>
<script type="text/plain" data-consent="analytics" data-src="/csp/tag.js"></script>
""", "csp"),
        "csp/app.js": "window.__external = 'not yet';\n",
        "styled.html": page_html(collector, '<button type="button" id="host">Host</button>',
                                 "styled", head=HOSTILE_CSS),
        "api.html": page_html(collector, '<button type="button">Allow analytics</button>',
                              "api", head='<script src="/api.js" defer></script>'),
        "api.js": """window.__seen = [];
cleargif.on('consent', function (state) {
  __seen.push(state.decided);
  if (window.__api === undefined) {
    window.__api = null;
    window.__active = navigator.userActivation ? navigator.userActivation.isActive : null;
    cleargif.consent.set({analytics: true, marketing: false}).then(function (r) { __api = r; });
  }
});
document.querySelector('button').onclick = function () { cleargif.consent.set({analytics: true}); };
""",
        "csp/tag.js": "window.__external = 'ran';\n",
        # A host script whose consent listener throws, with and without data-debug.
        "throwing.html": page_html(collector, "<p>A broken listener.</p>", "throwing",
                                   head='<script src="/throwing.js" defer></script>'),
        "debug.html": page_html(collector, "<p>A broken listener.</p>", "debug",
                                head='<script src="/throwing.js" defer></script>',
                                lang_attr=" data-debug"),
        "throwing.js": ("window.__calls = 0;\ncleargif.on('consent', function () {\n"
                        "  __calls++;\n  throw new Error('the listener broke');\n});\n"),
    }
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


class Site(Process):
    """The host site's process; reachable as 127.0.0.1 (same site) and localhost (cross-site)."""

    def __init__(self, root: Path, log: Path) -> None:
        super().__init__(log)
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cross_url = f"http://localhost:{self.port}"

    def start(self, collector_url: str) -> None:
        csp = (f"default-src 'self' {collector_url}; "
               f"script-src 'self' {collector_url} 'nonce-{NONCE}'")
        proc = self.spawn([sys.executable, "-c", SITE_SERVER, str(self.root), str(self.port), csp],
                          dict(os.environ))
        wait_http(f"{self.url}/index.html", proc, self.log)


@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Any]:
    """Playwright's sync API, or a skip (a failure under CLEARGIF_REQUIRE_ALL=1)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip(SKIP_REASON)
    if not Path(CHROMIUM).exists():
        require_or_skip(SKIP_REASON)
    with sync_playwright() as api:
        yield api


@pytest.fixture(scope="session")
def browser(playwright_api: Any) -> Iterator[Any]:
    """Headless Debian Chromium."""
    browser = playwright_api.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def servers(browser: Any,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Collector, Site]]:
    """The collector (revision 1) and the host site, for the whole session."""
    tmp = tmp_path_factory.mktemp("browser")
    site = Site(tmp / "site", tmp / "site.log")
    collector = Collector(tmp / "data", site.port, tmp / "collector.log")
    write_site(site.root, collector.url)
    collector.start()
    try:
        site.start(collector.url)
        yield collector, site
    finally:
        site.stop()
        collector.stop()


@pytest.fixture
def collector(servers: tuple[Collector, Site]) -> Iterator[Collector]:
    """The running collector; a test that restarts or stops it gets revision 1 back."""
    col = servers[0]
    yield col
    if col.proc is None or col.proc.poll() is not None or col.revision != 1:
        col.stop()
        col.start()


@pytest.fixture
def site(servers: tuple[Collector, Site]) -> Site:
    """The host site."""
    return servers[1]


class Tab:
    """A page in its own browser context, plus what it reported: console errors and
    warnings, uncaught page errors, and the hits it sent to the collector (method, url, JSON
    body)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.hits: list[dict[str, Any]] = []
        self.console_errors: list[str] = []
        self.console_warnings: list[str] = []
        self.page_errors: list[str] = []
        ctx.route(re.compile(r"/t(\.gif)?(\?.*)?$"), self._record)
        self.page = ctx.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)
        elif message.type == "warning":
            self.console_warnings.append(message.text)

    def _record(self, route: Any) -> None:
        req = route.request
        body = req.post_data
        self.hits.append({"method": req.method, "url": req.url,
                          "body": json.loads(body) if body else None})
        route.continue_()


@pytest.fixture
def new_tab(browser: Any, site: Site) -> Iterator[Callable[..., Tab]]:
    """Open pages in fresh browser contexts (one cookie jar and storage each).

    ``new_tab(path, **context_options)``; ``origin=`` picks the site's origin
    (``site.cross_url`` for the cross-site case); ``init_script`` runs before any page script;
    ``path=None`` opens a blank page.
    """
    contexts: list[Any] = []

    def make(path: str | None = "/index.html", origin: str | None = None, init_script: str = "",
             referer: str | None = None, **options: Any) -> Tab:
        ctx = browser.new_context(**options)
        contexts.append(ctx)
        ctx.set_default_timeout(TIMEOUT_MS)
        if init_script:
            ctx.add_init_script(init_script)
        tab = Tab(ctx)
        if path is not None:
            tab.page.goto((origin or site.url) + path, referer=referer)
        return tab

    yield make
    for ctx in contexts:
        ctx.close()

