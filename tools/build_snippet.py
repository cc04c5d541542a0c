"""Build the served snippet ``static/js/cleargif.js`` from its readable source.

``python tools/build_snippet.py`` rewrites the served file from ``static/js/src/cleargif.js``;
``python tools/build_snippet.py --check`` changes nothing and exits 1 when the served file is
not what the source builds (the test suite runs the same check).

It runs terser, pinned in ``package.json`` and ``package-lock.json``: install it once with
``npm ci`` at the repository root (Node.js 18 or newer). terser drops comments and white
space and shortens local names (``--mangle``, no ``--compress``, so statements stay as
written); the ``/*! … */`` header, which says in plain words what the snippet sends, is kept.
rjsmin, which needs no Node, keeps every name as written: with readable names the snippet
no longer fits its 6 KB budget that way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "static" / "js" / "src" / "cleargif.js"
OUTPUT = REPO / "static" / "js" / "cleargif.js"
TERSER = REPO / "node_modules" / "terser" / "bin" / "terser"
#: Keep the /*! header; the source is ES2020 (?., ??), so is the output.
TERSER_OPTIONS = ["--mangle", "--comments", "/^!/", "--ecma", "2020"]


class BuildError(Exception):
    """The build could not run; the message says how to fix it."""


def missing_tool() -> str | None:
    """Why the build cannot run here (no Node.js, or terser not installed), or None."""
    if shutil.which("node") is None:
        return "Node.js is not installed: install it (apt-get install nodejs npm), then npm ci."
    if not TERSER.exists():
        return "terser is not installed: run npm ci at the repository root."
    return None


def build(source: str) -> str:
    """The served form of ``source``.

    :raises BuildError: terser is missing or refused the source.
    """
    reason = missing_tool()
    if reason is not None:
        raise BuildError(reason)
    node = shutil.which("node") or "node"
    done = subprocess.run([node, str(TERSER), *TERSER_OPTIONS], input=source,
                          capture_output=True, text=True, encoding="utf-8", timeout=120,
                          check=False)
    if done.returncode != 0:
        raise BuildError(f"terser failed on {SOURCE.name}:\n{done.stderr.strip()}")
    return done.stdout.rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    """Write the served file, or with ``--check`` only compare it; the exit status."""
    check = argv == ["--check"]
    if argv and not check:
        print("usage: python tools/build_snippet.py [--check]", file=sys.stderr)
        return 2
    try:
        built = build(SOURCE.read_text(encoding="utf-8"))
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 2
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
    if check:
        if current != built:
            print(f"{OUTPUT.name} is stale: run python tools/build_snippet.py and commit it.",
                  file=sys.stderr)
            return 1
        return 0
    if current != built:
        OUTPUT.write_text(built, encoding="utf-8", newline="\n")
        print(f"wrote {OUTPUT.name}: {len(built.encode())} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
