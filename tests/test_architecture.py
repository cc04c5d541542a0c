"""The house rules that the layout promises (STYLE, "Layout"): importing the collector
starts nothing, no module imports in a cycle, SQL only in the storage backends, every MAC
over SECRET_KEYS through the one keyring."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTOR = REPO / "collector"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every collector module ``path`` imports, at module level or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("collector"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("collector"):
                continue
            for alias in node.names:  # "from . import x" may name a module
                candidate = f"{target}.{alias.name}"
                as_file = REPO / Path(*candidate.split("."))
                found.add(candidate if as_file.with_suffix(".py").exists()
                          or (as_file / "__init__.py").exists() else target)
    found.discard(name)
    return found


def test_importing_the_collector_starts_no_cli_and_no_server() -> None:
    code = ("import sys, collector; print(sorted(m for m in sys.modules "
            "if m.startswith(('collector', 'gunicorn'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "['collector', 'collector.errors']"


def test_no_import_cycle_in_the_collector() -> None:
    graph = {module_name(p): imports(p) for p in COLLECTOR.rglob("*.py")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, " -> ".join([*visiting[visiting.index(node):], node])
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            if target in graph:
                visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    assert len(graph) > 40


#: SQL as it would be written into a string: a statement's opening words, in upper case.
_SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
                  r"DELETE\s+FROM|CREATE\s+(TEMP\s+|UNIQUE\s+)?(TABLE|INDEX)|ALTER\s+TABLE|"
                  r"DROP\s+(TABLE|INDEX)|PRAGMA\s|BEGIN\s+IMMEDIATE)\b")


def test_sql_lives_only_in_the_storage_backends() -> None:
    found = []
    for path in COLLECTOR.rglob("*.py"):
        if path.is_relative_to(COLLECTOR / "storage"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    _SQL.search(node.value):
                found.append(f"{path.relative_to(REPO)}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_the_sql_check_would_see_sql() -> None:
    for text in ("SELECT COUNT(*) FROM events", "INSERT OR IGNORE INTO rollups (day)",
                 "UPDATE audit SET actor = '-'", "DELETE FROM events WHERE", "PRAGMA x"):
        assert _SQL.search(text), text
    for text in ("Select a site", "Insert the key into DATA_DIR", "update the receipts"):
        assert not _SQL.search(text), text


def test_every_mac_over_secret_keys_goes_through_the_keyring() -> None:
    allowed = {"sdk/keyring.py",  # the one keyring
               "sdk/pseudonym.py",  # one sender key, never rotated (see sdk.keyring)
               "sdk/remember.py"}  # the validator chain, keyed by a random salt per token
    users = sorted(str(p.relative_to(REPO)) for p in [*COLLECTOR.rglob("*.py"),
                                                        *(REPO / "sdk").rglob("*.py")]
                   if "hmac.new(" in p.read_text())
    assert set(users) <= allowed, users
    remember = (REPO / "sdk" / "remember.py").read_text()
    assert remember.count("hmac.new(") == 1 and "def _next_validator" in remember
