"""A host app with "remember me" done by cleargif's ``cg_remember`` cookie beside Flask-Login.

Flask-Login keeps the session (who is logged in, whether the login is fresh); cleargif's
:class:`~sdk.flask_remember.Remember` replaces Flask-Login's own remember cookie, which is
never set here (``login_user(..., remember=False)`` everywhere). The recipe is explained in
``docs/remember-me.md``. Run it from the repository root, over plain http::

    export CLEARGIF_SECRET_KEYS="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    CLEARGIF_COOKIE_SECURE=false python -m flask --app examples.remember_app run

then sign in as ``alice`` with the password ``wonderland-demo``. Set ``CLEARGIF_COLLECTOR_URL``
to a running collector to see the login counted as a bare ``login`` event: the account id is
never sent to tracking.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import (
    LoginManager,
    UserMixin,
    confirm_login,
    current_user,
    fresh_login_required,
    login_fresh,
    login_required,
    login_user,
    logout_user,
)
from jinja2 import DictLoader
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from sdk.errors import ConfigError
from sdk.flask_remember import Remember, parse_secret_keys

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    #: The identity database shared with the collector (its default place).
    "IDENTITY_URL": "sqlite:///cleargif-data/identity.db",
    #: Required, oldest first: the newest signs the session and cg_remember, all verify.
    "SECRET_KEYS": None,
    "REMEMBER_DAYS": 30,
    #: False only for plain-http development.
    "COOKIE_SECURE": True,
    #: A collector's base URL, e.g. ``https://stats.example.com``; pages then load its snippet.
    "COLLECTOR_URL": None,
    #: Demo accounts, user name to password (hashed at start-up, kept in memory only).
    "DEMO_USERS": {"alice": "wonderland-demo"},
}

THEFT_NOTICE = ("Someone presented an old copy of your remember-me cookie, so every "
                "remembered login of your account was ended. If that was not you, change "
                "your password.")

TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{% block title %}Remember-me example{% endblock %}</title>
{% if collector_url %}
<script src="{{ collector_url }}/static/js/cleargif.js" defer></script>
{% endif %}
</head>
<body>
<nav><a href="{{ url_for('index') }}">Home</a> ·
<a href="{{ url_for('account') }}">Account</a></nav>
{% for category, message in get_flashed_messages(with_categories=true) %}
<p class="flash {{ category }}">{{ message }}</p>
{% endfor %}
{% block body %}{% endblock %}
{% if collector_url and track_login %}
{# A bare event name: the account id never goes to tracking (DESIGN 1.1). #}
<script>document.addEventListener("DOMContentLoaded", function () {
  if (window.cleargif) { window.cleargif.track("login"); }
});</script>
{% endif %}
</body>
</html>
""",
    "index.html": """{% extends "base.html" %}
{% block body %}
{% if current_user.is_authenticated %}
<p id="status">Signed in as <strong>{{ current_user.name }}</strong>
{%- if not fresh %} (restored by remember-me: the account page will ask for your
password){% endif %}.</p>
<form method="post" action="{{ url_for('logout') }}">
<input type="hidden" name="csrf" value="{{ csrf_token() }}">
<button>Log out</button>
</form>
<form method="post" action="{{ url_for('logout_everywhere') }}">
<input type="hidden" name="csrf" value="{{ csrf_token() }}">
<button>Log out everywhere</button>
</form>
{% else %}
<p id="status">Not signed in. <a href="{{ url_for('login') }}">Sign in</a></p>
{% endif %}
{% endblock %}
""",
    "login.html": """{% extends "base.html" %}
{% block body %}
<form method="post" action="{{ url_for('login', next=request.args.get('next')) }}">
<input type="hidden" name="csrf" value="{{ csrf_token() }}">
<label>User name <input name="username" autocomplete="username" required></label>
<label>Password
<input name="password" type="password" autocomplete="current-password" required></label>
<label><input type="checkbox" name="remember" value="yes"> Remember me on this browser</label>
<button>Sign in</button>
</form>
{% endblock %}
""",
    "reauth.html": """{% extends "base.html" %}
{% block body %}
<p>Your login was restored by remember-me. Enter your password again to continue.</p>
<form method="post" action="{{ url_for('reauth', next=request.args.get('next')) }}">
<input type="hidden" name="csrf" value="{{ csrf_token() }}">
<label>Password
<input name="password" type="password" autocomplete="current-password" required></label>
<button>Confirm</button>
</form>
{% endblock %}
""",
    "account.html": """{% extends "base.html" %}
{% block body %}
<h1>Account</h1>
<form method="post" action="{{ url_for('change_password') }}">
<input type="hidden" name="csrf" value="{{ csrf_token() }}">
<label>Current password <input name="current" type="password" required></label>
<label>New password <input name="new" type="password" minlength="8" required></label>
<button>Change password (signs out every other browser)</button>
</form>
<form method="post" action="{{ url_for('logout_everywhere') }}">
<input type="hidden" name="csrf" value="{{ csrf_token() }}">
<button>Log out everywhere</button>
</form>
{% endblock %}
""",
}


class User(UserMixin):
    """A logged-in account. Its Flask-Login id carries the remember-me epoch, so bumping
    the epoch ("log out everywhere", a password change) ends sessions as well as cookies."""

    def __init__(self, name: str, epoch: int) -> None:
        self.name = name
        self.epoch = epoch

    def get_id(self) -> str:
        return f"{self.name}:{self.epoch}"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the example app: defaults, then ``CLEARGIF_*`` variables, then ``test_config``.

    :raises ConfigError: no ``SECRET_KEYS`` (there is no development fallback: a guessable
        key would make every session and remember-me cookie forgeable).
    """
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("CLEARGIF")
    if test_config is not None:
        app.config.from_mapping(test_config)

    if not app.config["SECRET_KEYS"]:
        raise ConfigError("SECRET_KEYS", "SECRET_KEYS is not set: export CLEARGIF_SECRET_KEYS "
                          "with a long random key, e.g. the output of `python -c 'import "
                          "secrets; print(secrets.token_urlsafe(32))'` (docs/remember-me.md).")
    keys = parse_secret_keys(app.config["SECRET_KEYS"])
    secure = app.config["COOKIE_SECURE"] is not False
    app.config.update(
        # Flask's session uses the same list: the newest key signs, the older ones verify.
        SECRET_KEY=keys[-1],
        SECRET_KEY_FALLBACKS=keys[:-1],
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.jinja_loader = DictLoader(TEMPLATES)

    passwords = {name: generate_password_hash(pw)
                 for name, pw in app.config["DEMO_USERS"].items()}
    # Checked when the user name is unknown, so timing does not tell which names exist.
    decoy = generate_password_hash(secrets.token_urlsafe(16))
    notices: dict[str, str] = {}

    def log_in(name: str, *, fresh: bool) -> bool:
        return bool(login_user(User(name, remember.epoch(name)), remember=False, fresh=fresh))

    def on_theft(account: str) -> None:
        # The owner is told at their next sign-in; the log line names no account.
        notices[account] = THEFT_NOTICE
        log.warning("Remember-me theft suspected: every token of one account was revoked.")

    remember = Remember(
        app,
        login_loader=lambda account: account in passwords and log_in(account, fresh=False),
        is_logged_in=lambda: bool(current_user.is_authenticated),
        on_theft=on_theft,
    )

    login_manager = LoginManager(app)
    login_manager.login_view = "login"
    login_manager.refresh_view = "reauth"
    login_manager.needs_refresh_message = "Please enter your password again to continue."

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        name, _, epoch = user_id.rpartition(":")
        if name in passwords and epoch == str(remember.epoch(name)):
            return User(name, int(epoch))
        return None  # an ended epoch: the session is over

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return str(session["csrf"])

    @app.before_request
    def check_csrf() -> None:
        if request.method == "POST":
            sent = request.form.get("csrf", "").encode()
            if not hmac.compare_digest(sent, session.get("csrf", "").encode()) or not sent:
                abort(400, "The form expired; reload the page and try again.")

    @app.context_processor
    def template_values() -> dict[str, Any]:
        collector = app.config["COLLECTOR_URL"]
        return {
            "csrf_token": csrf_token,
            "collector_url": collector.rstrip("/") if collector else None,
            "track_login": session.pop("track_login", False),
            "fresh": login_fresh(),
        }

    def safe_next(target: str | None) -> str:
        # Only paths of this site: never an open redirect. Browsers drop tabs and line
        # breaks from URLs ("/\t/evil" is "//evil"), so any control character is refused.
        if not target or any(ord(c) < 32 or c == "\x7f" for c in target):
            return url_for("index")
        parts = urlsplit(target)
        if target.startswith("/") and not target.startswith("//") and "\\" not in target \
                and not parts.scheme and not parts.netloc:
            return target
        return url_for("index")

    @app.get("/")
    def index() -> str:
        return render_template("index.html")

    @app.route("/login", methods=["GET", "POST"])
    def login() -> str | Response:
        if request.method == "POST":
            name = request.form.get("username", "")
            stored = passwords.get(name)
            if check_password_hash(stored or decoy, request.form.get("password", "")) \
                    and stored is not None:
                log_in(name, fresh=True)
                if request.form.get("remember"):
                    remember.remember(None, name)
                else:
                    remember.forget()  # an older cookie must not outlive this choice
                notice = notices.pop(name, None)
                if notice:
                    flash(notice, "warning")
                session["track_login"] = True
                return redirect(safe_next(request.args.get("next")))
            flash("Wrong user name or password.", "error")
        return render_template("login.html")

    @app.route("/reauth", methods=["GET", "POST"])
    @login_required
    def reauth() -> str | Response:
        if request.method == "POST":
            stored = passwords.get(current_user.name)
            if stored and check_password_hash(stored, request.form.get("password", "")):
                confirm_login()
                remember.mark_fresh()
                return redirect(safe_next(request.args.get("next")))
            flash("Wrong password.", "error")
        return render_template("reauth.html")

    @app.get("/account")
    @fresh_login_required
    def account() -> str:
        return render_template("account.html")

    @app.post("/password")
    @fresh_login_required
    def change_password() -> Response:
        name = current_user.name
        if not check_password_hash(passwords[name], request.form.get("current", "")):
            flash("Your current password is not right.", "error")
            return redirect(url_for("account"))
        new = request.form.get("new", "")
        if len(new) < 8:
            flash("Choose a new password of at least 8 characters.", "error")
            return redirect(url_for("account"))
        passwords[name] = generate_password_hash(new)
        kept = remember.has_cookie()
        remember.bump_epoch(name)  # every token and every other session of the account ends
        log_in(name, fresh=True)  # this session goes on under the new epoch
        if kept:
            remember.remember(None, name)
        flash("Password changed. Every other browser was signed out.", "info")
        return redirect(url_for("account"))

    @app.post("/logout")
    def logout() -> Response:
        remember.forget()
        logout_user()
        flash("Signed out.", "info")
        return redirect(url_for("index"))

    @app.post("/logout-everywhere")
    @login_required
    def logout_everywhere() -> Response:
        remember.forget_everywhere(current_user.name)
        logout_user()
        flash("Signed out on every browser.", "info")
        return redirect(url_for("index"))

    return app
