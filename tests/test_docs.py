"""The Python examples in the README and docs run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# Blocks that need a live collector (the API client) or that are excerpts of an example
# app run elsewhere are not executed here.
SKIP_MARK = "from sdk import AdminClient"


def blocks() -> list[Any]:
    out = []
    for path in DOCS:
        for i, code in enumerate(BLOCK.findall(path.read_text())):
            if SKIP_MARK in code or code.startswith("# excerpt of"):
                continue
            out.append(pytest.param(code, id=f"{path.name}-{i}"))
    return out


@pytest.mark.parametrize("code", blocks())
def test_doc_example_runs(code: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_example__"})
