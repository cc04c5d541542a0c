"""The command line as a newcomer meets it: which data it reads, what it refuses, its help."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from flask import Flask

from collector.cli.main import version
from tests.conftest import SECRET, TOKEN, error_line, make_app, make_config

REPO = Path(__file__).resolve().parents[1]


def cleargif(*args: str, cwd: Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """Run the ``cleargif`` command line in ``cwd`` with no cleargif setting of this shell."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "collector", *args], cwd=cwd,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("args", [
    ["export", "--since", "2026-01-01", "--until", "2026-01-31"],
    ["campaign", "report", "spring-2026"],
    ["campaign", "sent", "spring-2026", "10"],
    ["token", "new", "--scope", "aggregate", "--name", "analyst"],
    ["consent", "verify"],
    ["audit"],
    ["purge", "--dry-run"],
    ["keys", "new"],
])
def test_an_empty_folder_is_refused_and_left_empty(tmp_path: Path, args: list[str]) -> None:
    done = cleargif(*args, cwd=tmp_path)
    assert done.returncode != 0 and done.stdout == ""
    line = error_line(done.stderr)
    assert "--data-dir" in line and "CLEARGIF_DATA_DIR" in line
    assert str(tmp_path / "cleargif-data") in line  # says which folder it looked in
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_with_data_stderr_names_the_stores(tmp_path: Path) -> None:
    data = tmp_path / "site-data"
    make_app(make_config(tmp_path, DATA_DIR=str(data))).extensions["cleargif"].close()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"CLEARGIF_SECRET_KEYS": f'["{SECRET}"]', "CLEARGIF_TOKEN_KEYS": f'["{TOKEN}"]'}
    done = cleargif("--data-dir", str(data), "export", "--since", "2026-01-01", "--until",
                    "2026-01-31", cwd=elsewhere, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("day,hits,visits,returning_visitors")
    assert f"Using the events store {data}/events.db." in done.stderr.splitlines()
    done = cleargif("campaign", "sent", "spring-2026", "10", cwd=elsewhere,
                    env={**env, "CLEARGIF_DATA_DIR": str(data)})
    assert done.returncode == 0, done.stderr
    assert f"Using the events store {data}/events.db." in done.stderr
    done = cleargif("--data-dir", str(data), "campaign", "report", "spring-2026",
                    cwd=elsewhere, env=env)
    assert done.returncode == 0, done.stderr
    assert (f"Using the events store {data}/events.db and the identity store "
            f"{data}/identity.db.") in done.stderr
    assert list(elsewhere.iterdir()) == []


def test_an_unknown_campaign_is_one_line(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["campaign", "sent", "newsletter-december", "100"]).exit_code == 0
    out = runner.invoke(args=["campaign", "report", "newsletter-decmber"])
    assert out.exit_code == 2 and out.stdout == ""
    assert error_line(out.stderr) == ("Error: No campaign 'newsletter-decmber' was sent or "
                                      "seen here; did you mean newsletter-december?")
    out = runner.invoke(args=["campaign", "report", "zzz"])
    assert error_line(out.stderr).startswith("Error: No campaign 'zzz' was sent or seen here")
    assert runner.invoke(args=["campaign", "report", "newsletter-december"]).exit_code == 0


def test_the_api_answers_an_unknown_campaign_with_404(app: Flask) -> None:
    runner = app.test_cli_runner()
    token = runner.invoke(args=["token", "new", "--scope", "aggregate", "--name", "a"]).stdout
    r = app.test_client().get("/api/v1/campaigns/nothing-here",
                              headers={"Authorization": f"Bearer {token.strip()}"})
    assert r.status_code == 404 and "No campaign 'nothing-here'" in r.json["error"]


def test_version(tmp_path: Path) -> None:
    done = cleargif("--version", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == f"cleargif {version()}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", version())  # installed: the project's release
    assert list(tmp_path.iterdir()) == []


def _commands(group: click.Group, ctx: click.Context) -> list[tuple[click.Command,
                                                                     click.Context]]:
    found: list[tuple[click.Command, click.Context]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        sub = click.Context(command, info_name=name, parent=ctx, terminal_width=72,
                            max_content_width=72)
        found.append((command, sub))
        if isinstance(command, click.Group):
            found += _commands(command, sub)
    return found


#: Names in help texts: words joined by underscores or hyphens (referrer_host, --data-dir).
_NAME = re.compile(r"-{0,2}[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)+")


def test_help_never_breaks_a_name(app: Any) -> None:
    root = click.Context(app.cli, info_name="cleargif", terminal_width=72,
                         max_content_width=72)
    commands = _commands(app.cli, root)
    assert len(commands) > 15
    for command, ctx in commands:
        shown = " ".join(command.get_help(ctx).split())  # a name cut by a line break shows
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        for text in texts:
            for name in _NAME.findall(text):
                assert name in shown, (ctx.command_path, name)
