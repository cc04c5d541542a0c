"""The site owner's dashboard at ``/dashboard/`` (DESIGN 10): sign-in (:mod:`.auth`), the
page's choices and panels as plain functions over the aggregate export
(:mod:`.choices`, :mod:`.panels`), charts as server-rendered SVG (:mod:`.charts`), texts
in English, German and Arabic (:mod:`.texts`), and the blueprint (:mod:`.views`).

:func:`init_app` wires it into the collector: the blueprint with its stylesheet and
script (``static/dashboard/``), the session cookie, and cleargif's remember-me, kept to
the dashboard's requests so that no other route ever reads ``cg_remember``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the dashboard on ``app``."""
    from sdk.flask_remember import Remember

    from . import auth, views

    app.session_interface = auth.DashboardSessions(auth.session_keys)
    # The app's static folder is found beside the package or inside it (a wheel).
    views.bp.static_folder = f"{app.static_folder}/dashboard"
    views.bp.static_url_path = "/static"
    app.register_blueprint(views.bp)
    remember = Remember(login_loader=views.recall, is_logged_in=views.logged_in,
                        secret_keys=auth.session_keys)
    remember.init_app(app, blueprint=views.bp.name)
