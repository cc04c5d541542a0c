"""Every command of the ``cleargif`` line, registered on ``app.cli`` by :func:`init_app`
(called by :func:`collector.create_app`)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the commands on ``app.cli``."""
    from . import (
        campaign,
        copy,
        export,
        keys,
        migrate,
        privacy,
        purge,
        serve,
        suppressions,
        tokens,
        users,
    )

    for command in (keys.keys_group, serve.serve, migrate.migrate, copy.copy_command,
                    export.export_command, tokens.token_group, campaign.campaign_group,
                    suppressions.suppressions_group, purge.purge, privacy.consent_group,
                    privacy.subject_group, privacy.audit_command, users.user_group):
        app.cli.add_command(command)
