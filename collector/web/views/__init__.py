"""Blueprints, one per surface of the HTTP API; :func:`init_app` registers them."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint on ``app``."""
    from . import admin, consent, demo, email, health, subjects, tracking

    for module in (tracking, consent, email, health, admin, subjects, demo):
        app.register_blueprint(module.bp)
