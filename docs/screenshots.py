"""Make the dashboard's screenshots in ``docs/img/``: desktop (1280 px), phone (390 px), dark
and Arabic, of a collector filled with the benchmark's made-up traffic.

Run from the repository root: ``python docs/screenshots.py`` (needs Debian's chromium and
Playwright, as the browser tests do). The data is generated afresh in a temporary
folder; nothing of this machine's own data is read.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, str(ROOT))

from bench.dashboard import PASSWORD, SECRET, SITE, TOKEN, USER, build, summarise  # noqa: E402


def free_port() -> int:
    """A port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Generate the data, start the collector, sign in and take the four pictures."""
    from playwright.sync_api import sync_playwright

    from collector import create_app
    from collector.dashboard import auth

    tmp = Path(tempfile.mkdtemp(prefix="cleargif-shots-"))
    build(tmp, 240_000, 120, seed=7)  # about ten seconds
    summarise(tmp)  # the daily totals a running collector's purge has made
    config = {"DATA_DIR": str(tmp), "SECRET_KEYS": [SECRET], "TOKEN_KEYS": [TOKEN],
              "ALLOWED_ORIGINS": [f"https://{SITE}", "https://shop.example.com"]}
    app = create_app(config)
    auth.add_user(app.extensions["cleargif"].identity, USER, PASSWORD)
    app.extensions["cleargif"].close()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")},
           "CLEARGIF_DATA_DIR": str(tmp), "CLEARGIF_SECRET_KEYS": f'["{SECRET}"]',
           "CLEARGIF_TOKEN_KEYS": f'["{TOKEN}"]', "CLEARGIF_COOKIE_SECURE": "false",
           "CLEARGIF_ALLOWED_ORIGINS": f'["https://{SITE}", "https://shop.example.com"]',
           "PYTHONPATH": str(ROOT)}
    code = ("import logging; logging.getLogger('werkzeug').setLevel(logging.WARNING); "
            "from collector import create_app; from werkzeug.serving import run_simple; "
            f"run_simple('127.0.0.1', {port}, create_app(), threaded=True)")
    server = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as api:
            browser = api.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
            shots = [("dashboard-desktop.png", {"viewport": {"width": 1280, "height": 900}},
                      ""),
                     ("dashboard-phone.png", {"viewport": {"width": 390, "height": 844},
                                              "device_scale_factor": 2, "is_mobile": True,
                                              "has_touch": True}, ""),
                     ("dashboard-dark.png", {"viewport": {"width": 1280, "height": 900},
                                             "color_scheme": "dark"}, ""),
                     ("dashboard-arabic.png", {"viewport": {"width": 1280, "height": 900}},
                      "&lang=ar")]
            for name, options, extra in shots:
                context = browser.new_context(**options)
                page = context.new_page()
                page.goto(f"{base}/dashboard/login")
                page.fill("#username", USER)
                page.fill("#password", PASSWORD)
                page.click("button[type=submit].primary")
                page.wait_for_url(re.compile(r"/dashboard/(\?.*)?$"))
                page.goto(f"{base}/dashboard/?site={SITE}&period=30d{extra}")
                page.wait_for_selector(".chart-svg")
                full = name != "dashboard-phone.png"
                page.screenshot(path=str(OUT / name), full_page=full)
                print(f"wrote {OUT / name} ({date.today()})")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
