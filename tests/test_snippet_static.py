"""The site snippet as served, without a browser: size budget, forbidden constructs, one
global; and the demo page's routes (DESIGN 9; the browser tests are in tests/browser/)."""

from __future__ import annotations

import gzip
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from collector import create_app
from collector.web import snippet as snippet_module
from tests.conftest import require_or_skip

#: cookieconsent v3 ships about 10 KB of JS and 5 KB of CSS gzipped; cleargif: 6 KB for all.
BUDGET = 6 * 1024
SNIPPET = "/static/js/cleargif.js"
JS = Path(__file__).resolve().parents[1] / "static" / "js"
#: The served file, its readable source, and the script that makes one from the other.
SERVED, SOURCE = JS / "cleargif.js", JS / "src" / "cleargif.js"
BUILD = JS.parents[1] / "tools" / "build_snippet.py"


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
    # What a browser downloads: the snippet as the collector serves it gzip-compressed...
    resp = client.get(SNIPPET, headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    served = len(resp.get_data())
    assert gzip.decompress(resp.get_data()).decode("utf-8") == snippet
    resp.close()
    # ...and the file itself at level 9, as a compressing proxy in front would serve it.
    total = len(gzip.compress(snippet.encode("utf-8"), compresslevel=9))
    # A stylesheet it loads counts too (today the styles are inside, applied through CSSOM).
    for sheet in re.findall(r"['\"]([^'\"]+\.css)['\"]", snippet):
        resp = client.get("/static/js/" + sheet.rsplit("/", 1)[-1])
        assert resp.status_code == 200, f"the snippet loads {sheet}, which is not served"
        extra = len(gzip.compress(resp.get_data(), compresslevel=9))
        total, served = total + extra, served + extra
        resp.close()
    assert served <= BUDGET, f"{served} bytes served gzipped, over the {BUDGET}-byte budget"
    assert total <= BUDGET, f"{total} bytes gzipped, over the {BUDGET}-byte budget"


def build_module() -> ModuleType:
    """``tools/build_snippet.py``, which makes the served snippet from its readable source."""
    spec = importlib.util.spec_from_file_location("snippet_build", BUILD)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_module_with_tool() -> ModuleType:
    """The build script, where it can run (Node.js and terser, from ``npm ci``)."""
    build = build_module()
    reason = build.missing_tool()
    if reason is not None:
        require_or_skip(f"the snippet's build cannot run: {reason}")
    return build


def test_served_snippet_is_built_from_the_readable_source() -> None:
    """The checked-in served file is exactly what the build makes of the source now."""
    build = build_module_with_tool()
    built = build.build(SOURCE.read_text(encoding="utf-8"))
    assert SERVED.read_text(encoding="utf-8") == built, (
        "static/js/cleargif.js is stale: run python tools/build_snippet.py and commit it")
    # The header that says what it sends survives the build; the source's notes do not.
    assert built.startswith("/*! cleargif.js:") and "readable source" not in built
    # The same check from the command line, as a contributor runs it.
    done = subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_build_check_fails_on_a_stale_output(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    build = build_module_with_tool()
    stale = tmp_path / "cleargif.js"
    stale.write_text(SERVED.read_text(encoding="utf-8").replace("cleargif", "clearjif", 1),
                     encoding="utf-8")
    monkeypatch.setattr(build, "OUTPUT", stale)
    assert build.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert build.main([]) == 0, "without --check it rewrites the output"
    assert build.main(["--check"]) == 0
    assert stale.read_text(encoding="utf-8") == SERVED.read_text(encoding="utf-8")


def snippet_file() -> bytes:
    """The snippet's bytes on disk, beside the collector package in this checkout."""
    return SERVED.read_bytes()


def test_snippet_is_served_gzip_compressed_once_at_level_9(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = snippet_module.gzip.compress

    def counting(data: bytes, compresslevel: int = 9, *, mtime: float | None = None) -> bytes:
        calls.append(compresslevel)
        return real(data, compresslevel=compresslevel, mtime=mtime)

    monkeypatch.setattr(snippet_module.gzip, "compress", counting)
    plain = client.get(SNIPPET)
    plain.close()
    for accept in ("gzip", "gzip, deflate, br, zstd", "br;q=1, gzip;q=0.5", "*"):
        resp = client.get(SNIPPET, headers={"Accept-Encoding": accept})
        assert resp.status_code == 200, accept
        assert resp.headers["Content-Encoding"] == "gzip", accept
        assert resp.mimetype == "text/javascript"
        assert "Accept-Encoding" in resp.headers["Vary"]
        assert resp.get_data() == real(snippet_file(), compresslevel=9, mtime=0)
        assert int(resp.headers["Content-Length"]) == len(resp.get_data())
        # Caching as for the plain file, under an ETag of its own.
        assert resp.headers["Cache-Control"] == plain.headers["Cache-Control"]
        assert resp.headers["Last-Modified"] == plain.headers["Last-Modified"]
        assert resp.headers["ETag"] != plain.headers["ETag"]
        resp.close()
    assert calls == [9], "compressed once, at level 9, then answered from memory"


@pytest.mark.parametrize("accept", [None, "identity", "br, deflate", "gzip;q=0",
                                    "gzip;q=0, *"])
def test_snippet_is_served_as_is_where_gzip_is_not_accepted(client: FlaskClient,
                                                            accept: str | None) -> None:
    resp = client.get(SNIPPET, headers={"Accept-Encoding": accept} if accept else {})
    assert resp.status_code == 200
    assert "Content-Encoding" not in resp.headers
    assert "Accept-Encoding" in resp.headers["Vary"]
    assert resp.get_data() == snippet_file()
    resp.close()


def test_conditional_requests_match_each_form_by_its_own_etag(client: FlaskClient) -> None:
    gzipped = {"Accept-Encoding": "gzip"}
    first = client.get(SNIPPET, headers=gzipped)
    plain = client.get(SNIPPET)
    plain.close()
    again = client.get(SNIPPET, headers={**gzipped, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "Accept-Encoding" in again.headers["Vary"]
    # The plain file's ETag does not match the compressed form, nor the other way round.
    other = client.get(SNIPPET, headers={**gzipped, "If-None-Match": plain.headers["ETag"]})
    assert other.status_code == 200 and other.headers["Content-Encoding"] == "gzip"
    back = client.get(SNIPPET, headers={"If-None-Match": first.headers["ETag"]})
    assert back.status_code == 200 and "Content-Encoding" not in back.headers
    back.close()
    head = client.head(SNIPPET, headers=gzipped)
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["Content-Length"] == first.headers["Content-Length"]
    for resp in (first, again, other, head):
        resp.close()


def test_compressed_snippet_follows_the_file_and_still_expires_stale_cookies(
        app: Flask, tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    target = static / "js" / "cleargif.js"
    target.write_text("/*! one */", encoding="utf-8")
    app.static_folder = str(static)
    snippet_module.init_app(app)  # again, on the moved folder
    client = app.test_client()
    gzipped = {"Accept-Encoding": "gzip"}
    first = client.get(SNIPPET, headers=gzipped)
    assert gzip.decompress(first.get_data()) == b"/*! one */"
    target.write_text("/*! two, longer */", encoding="utf-8")
    second = client.get(SNIPPET, headers=gzipped)
    assert gzip.decompress(second.get_data()) == b"/*! two, longer */"
    assert second.headers["ETag"] != first.headers["ETag"]
    # The collector's sweep of cookies whose purpose is not granted covers this answer too.
    client.set_cookie("cg_vid", "e" * 32 + ".1700000000", domain="localhost")
    swept = client.get(SNIPPET, headers=gzipped)
    assert any(h.startswith("cg_vid=;") for h in swept.headers.getlist("Set-Cookie"))


def test_snippet_uses_no_eval_function_constructor_or_document_write(snippet: str) -> None:
    code = code_only(snippet)
    for pattern in (r"\beval\s*\(", r"\bnew\s+Function\b", r"\bFunction\s*\(",
                    r"document\.write", r"\.innerHTML\b", r"\.outerHTML\b",
                    r"insertAdjacentHTML", r"set(?:Timeout|Interval)\s*\(\s*['\"`]"):
        assert not re.search(pattern, code), f"the snippet uses {pattern}"


def iife_names(code: str) -> tuple[str, str]:
    """The IIFE's names for the global object and its document, checking its shape: one
    function, called with ``globalThis`` and ``globalThis.document``, and nothing else."""
    body = code.strip()
    iife = re.match(r"\(function\s*\((\w+),\s*(\w+)\)\s*\{", body)
    assert iife is not None, "one IIFE"
    assert re.search(r"\}\)\(globalThis,\s*globalThis\.document\);$", body)
    glob, doc = iife.groups()
    nothing = rf"if\s*\(\s*!{doc}\s*\|\|\s*{glob}\.cleargif\s*\)\s*return;"
    assert re.search(nothing, code), "does nothing without a document"
    return glob, doc


def test_snippet_defines_one_global_and_nothing_without_document(snippet: str) -> None:
    # In the source, where each name means one thing: the only property set on the
    # global object is `cleargif` (the browser tests check the same of the served file).
    code = code_only(SOURCE.read_text(encoding="utf-8"))
    glob, _ = iife_names(code)
    assert re.findall(rf"\b{glob}\.(\w+)\s*=(?!=)", code) == ["cleargif"]
    others = {"window", "globalThis", "self"} - {glob}
    assert not re.search(rf"\b(?:{'|'.join(others)})\.\w+\s*=(?!=)", code)
    # The served file keeps the shape (its build only shortens names).
    iife_names(code_only(snippet))


def test_snippet_header_says_what_it_sends(snippet: str) -> None:
    header = snippet[: snippet.index("*/")]
    assert header.startswith("/*!")
    for words in ("GET /consent", "POST /consent", "POST /t", "/t.gif", "No ids",
                  "localStorage"):
        assert words in header
    # True in every counting mode: under ANONYMOUS_COUNTING=always hits go on after a refusal.
    assert re.search(r'After "Reject all" nothing, unless the site counts\s+\S*"always"', header)


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
