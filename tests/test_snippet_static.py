"""The site snippet as served, without a browser: size budget, forbidden constructs, one
global; and the demo page's routes (DESIGN 9; the browser tests are in tests/browser/)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector import create_app

#: cookieconsent v3 ships about 10 KB of JS and 5 KB of CSS gzipped; cleargif: 6 KB for all.
BUDGET = 6 * 1024
SNIPPET = "/static/js/cleargif.js"


@pytest.fixture
def snippet(client: FlaskClient) -> str:
    """The snippet's source exactly as the collector serves it."""
    resp = client.get(SNIPPET)
    assert resp.status_code == 200
    assert resp.mimetype in ("text/javascript", "application/javascript")
    text = resp.get_data(as_text=True)
    resp.close()
    return text


def code_only(source: str) -> str:
    """The source without comments and string literals, for checks on what it does."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"^\s*//.*$|\s//\s.*$", "", source, flags=re.M)
    return re.sub(r"'(?:\\.|[^'\\\n])*'|\"(?:\\.|[^\"\\\n])*\"", "''", source)


def test_snippet_and_its_styles_fit_the_budget(client: FlaskClient, snippet: str) -> None:
    total = len(gzip.compress(snippet.encode("utf-8"), compresslevel=9))
    # A stylesheet it loads counts too (today the styles are inside, applied through CSSOM).
    for sheet in re.findall(r"['\"]([^'\"]+\.css)['\"]", snippet):
        resp = client.get("/static/js/" + sheet.rsplit("/", 1)[-1])
        assert resp.status_code == 200, f"the snippet loads {sheet}, which is not served"
        total += len(gzip.compress(resp.get_data(), compresslevel=9))
        resp.close()
    assert total <= BUDGET, f"{total} bytes gzipped, over the {BUDGET}-byte budget"


def test_snippet_uses_no_eval_function_constructor_or_document_write(snippet: str) -> None:
    code = code_only(snippet)
    for pattern in (r"\beval\s*\(", r"\bnew\s+Function\b", r"\bFunction\s*\(",
                    r"document\.write", r"\.innerHTML\b", r"\.outerHTML\b",
                    r"insertAdjacentHTML", r"set(?:Timeout|Interval)\s*\(\s*['\"`]"):
        assert not re.search(pattern, code), f"the snippet uses {pattern}"


def test_snippet_defines_one_global_and_nothing_without_document(snippet: str) -> None:
    code = code_only(snippet)
    # One IIFE; the only property it sets on the window is `cleargif`.
    body = code.strip()
    assert body.startswith("(function (w, d) {") and body.endswith(");")
    assert re.findall(r"\bw\.(\w+)\s*=(?!=)", code) == ["cleargif"]
    assert not re.search(r"\b(?:window|globalThis|self)\.\w+\s*=(?!=)", code)
    assert "if (!d || w.cleargif) return;" in code, "does nothing without a document"


def test_snippet_header_says_what_it_sends(snippet: str) -> None:
    header = snippet[: snippet.index("*/")]
    assert header.startswith("/*!")
    for words in ("GET /consent", "POST /consent", "POST /t", "/t.gif", "No ids",
                  "localStorage"):
        assert words in header


@pytest.fixture
def demo_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The collector with the demo page switched on."""
    app = create_app({**app_config, "DEMO": True})
    yield app
    app.extensions["cleargif"].close()


DEMO_ASSETS = ["/demo/frame", "/demo/demo.js", "/demo/analytics.js", "/demo/demo.css",
               "/demo/icon.svg"]


@pytest.mark.parametrize("path", ["/", *DEMO_ASSETS])
def test_demo_routes_are_404_unless_demo_is_on(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_demo_page_embeds_the_snippet_gated_content_and_a_strict_csp(demo_app: Flask) -> None:
    client = demo_app.test_client()
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = resp.get_data(as_text=True)
    assert '<script src="/static/js/cleargif.js" defer></script>' in html
    assert re.search(r'<script type="text/plain" data-consent="analytics" data-src="/demo/', html)
    assert re.search(r'<iframe data-consent="marketing" data-src="/demo/frame"', html)
    assert 'data-cleargif="preferences"' in html
    # Under default-src 'self' nothing inline would run: every script has a source.
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag
    assert "style=" not in html and "<style" not in html
    for path in DEMO_ASSETS:
        assert client.get(path).status_code == 200
