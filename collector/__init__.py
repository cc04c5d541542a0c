"""cleargif's collector: a Flask app that serves clear GIFs and enforces consent.

Create it with :func:`create_app`; nothing happens at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from .errors import CleargifError, ConfigError, InvalidToken, StorageError

__all__ = ["CleargifError", "ConfigError", "InvalidToken", "StorageError", "create_app"]


def static_folder() -> str:
    """``static/`` beside the package in a checkout, or inside it in a wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "static", here / "static"):
        if candidate.is_dir():
            return str(candidate)
    return str(here.parent / "static")


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the collector app.

    Configuration is read from the defaults, then the TOML file named by
    ``CLEARGIF_CONFIG``, then ``CLEARGIF_*`` environment variables, then ``test_config``.

    :raises ConfigError: a configuration value is invalid; the message names the key.
    """
    import logging

    from . import dashboard, extension, web
    from .cli import commands
    from .config import load_config
    from .ingest.fastpath import PixelFastPath
    from .logs import install_filter

    app = Flask(__name__, static_folder=static_folder(), static_url_path="/static")
    # "//a" must not be redirected to "/a" with an HTML body: it is a 404 like any other.
    app.url_map.merge_slashes = False
    app.config.update(load_config(test_config))
    # Whatever a line or a traceback holds, no client address or query string is written.
    for logger in (app.logger, logging.getLogger("cleargif")):
        install_filter(logger)
    # Large bodies are refused before a view reads them.
    app.config.setdefault("MAX_CONTENT_LENGTH", 64 * 1024)
    collector = extension.init_app(app, create_app)
    # The lean path for GET /t.gif sits inside ProxyFix, so it sees the fixed environ.
    app.wsgi_app = PixelFastPath(app.wsgi_app, collector)  # type: ignore[method-assign]
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    web.init_app(app)
    dashboard.init_app(app)
    commands.init_app(app)
    return app
