"""The demo page: what a newcomer sees at ``/`` after ``cleargif serve --demo``.

It embeds the snippet as a site would, with a gated analytics tag, a gated marketing
iframe, a "Cookie settings" button and the live consent state. Every route answers 404
unless ``DEMO`` is true. The page sends ``Content-Security-Policy: default-src 'self'``,
so it also shows that the snippet needs no inline script or style; its own scripts and
stylesheet are therefore served by the routes below rather than inlined.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template

from ..responses import json_error

bp = Blueprint("demo", __name__)

#: The policy the demo page is served under: the strictest a site could reasonably send.
PAGE_CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
#: The gated iframe's own policy: no script at all, embeddable only by the demo.
FRAME_CSP = "default-src 'none'; style-src 'self'; frame-ancestors 'self'"

#: Shows the live consent state and sends a named event on request.
DEMO_JS = """\
(function () {
  var out = document.getElementById('demo-state');
  var sent = document.getElementById('demo-sent');
  if (!window.cleargif) {
    out.textContent = 'The snippet did not start: this browser lacks fetch or shadow DOM.';
    return;
  }
  cleargif.on('consent', function (state) {
    out.textContent = JSON.stringify(state, null, 2);
  });
  document.getElementById('demo-track').addEventListener('click', function () {
    cleargif.track('demo-button');
    sent.textContent = 'Event "demo-button" handed to the snippet at ' +
      new Date().toLocaleTimeString() + ' (stored only as your consent allows).';
  });
})();
"""

#: The gated analytics tag: cleargif runs it only once analytics is granted.
ANALYTICS_JS = """\
(function () {
  var box = document.getElementById('demo-analytics');
  box.textContent = 'The analytics tag ran at ' + new Date().toLocaleTimeString() +
    ': cleargif activated it because analytics is allowed.';
  box.className = 'demo-box demo-on';
})();
"""

DEMO_CSS = """\
body { font: 16px/1.5 system-ui, sans-serif; color: #1b1b1b; margin: 0; background: #f6f6f4; }
main { max-width: 46em; margin: 0 auto; padding: 1.5em 1em 6em; }
h1 { margin-top: 0; }
section { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 1em;
          margin: 1em 0; }
pre { background: #f0f0f0; padding: .75em; overflow: auto; font-size: .85em; }
iframe { width: 100%; height: 5em; border: 1px dashed #999; background: #fafafa; }
button { font: inherit; padding: .4em 1em; margin-inline-end: .5em; cursor: pointer; }
.demo-box { padding: .75em; margin: 0; border-radius: 6px; background: #fdecea; }
.demo-on { background: #e6f4ea; }
"""

#: A favicon, so the browser's automatic /favicon.ico request does not log a 404.
ICON_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">\
<circle cx="8" cy="8" r="7" fill="none" stroke="#1b1b1b" stroke-width="2"/></svg>
"""

FRAME_HTML = """\
<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Marketing frame (demo)</title>
<link rel="stylesheet" href="/demo/demo.css">
<body>
<p class="demo-box demo-on" id="demo-frame">This marketing iframe was loaded because
marketing is allowed. Withdraw it under "Cookie settings" and the page reloads without it.</p>
</body>
</html>
"""


def _require_demo() -> None:
    if not current_app.config.get("DEMO"):
        abort(404)


def _asset(text: str, mimetype: str, csp: str | None = None) -> Response:
    resp = Response(text, mimetype=mimetype)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if csp:
        resp.headers["Content-Security-Policy"] = csp
    return resp


@bp.route("/")
def index() -> Response:
    """The demo page; without ``DEMO``, a 404 that says how to show it."""
    if not current_app.config.get("DEMO"):
        return json_error("This is a cleargif collector; its demo page is off. `cleargif "
                          "serve` shows it only on loopback while ALLOWED_ORIGINS is empty: "
                          "start it with --demo (or set DEMO=true) to show it anyway.", 404)
    return _asset(render_template("demo.html"), "text/html", PAGE_CSP)


@bp.route("/demo/frame")
def frame() -> Response:
    """The page inside the gated marketing iframe."""
    _require_demo()
    return _asset(FRAME_HTML, "text/html", FRAME_CSP)


@bp.route("/demo/demo.js")
def script() -> Response:
    """The demo page's own script: the live consent state and a test event."""
    _require_demo()
    return _asset(DEMO_JS, "text/javascript")


@bp.route("/demo/analytics.js")
def analytics() -> Response:
    """The gated analytics tag."""
    _require_demo()
    return _asset(ANALYTICS_JS, "text/javascript")


@bp.route("/demo/icon.svg")
def icon() -> Response:
    """The demo's favicon."""
    _require_demo()
    return _asset(ICON_SVG, "image/svg+xml")


@bp.route("/demo/demo.css")
def stylesheet() -> Response:
    """The demo page's stylesheet (inline styles would break its CSP)."""
    _require_demo()
    return _asset(DEMO_CSS, "text/css")
