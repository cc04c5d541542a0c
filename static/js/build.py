"""Build the served snippet ``static/js/cleargif.js`` from its readable source.

``python static/js/build.py`` rewrites the served file from ``static/js/src/cleargif.js``;
``python static/js/build.py --check`` changes nothing and exits 1 when the served file is
not what the source builds (the test suite runs the same check).

The build only drops comments and white space (rjsmin, a pure-Python minifier, so the
suite needs no Node); names stay as written. The ``/*! … */`` header, which says in plain
words what the snippet sends, is kept.
"""

from __future__ import annotations

import sys
from pathlib import Path

import rjsmin

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "src" / "cleargif.js"
OUTPUT = HERE / "cleargif.js"


def build(source: str) -> str:
    """The served form of ``source``: comments and white space gone, the ``/*!`` header
    kept on lines of its own."""
    minified = str(rjsmin.jsmin(source, keep_bang_comments=True))
    if minified.startswith("/*!"):
        end = minified.index("*/") + 2
        minified = minified[:end] + "\n" + minified[end:].lstrip("\n")
    return minified + "\n"


def main(argv: list[str]) -> int:
    """Write the served file, or with ``--check`` only compare it; the exit status."""
    check = argv == ["--check"]
    if argv and not check:
        print("usage: python static/js/build.py [--check]", file=sys.stderr)
        return 2
    built = build(SOURCE.read_text(encoding="utf-8"))
    current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else None
    if check:
        if current != built:
            print(f"{OUTPUT.name} is stale: run python static/js/build.py and commit it.",
                  file=sys.stderr)
            return 1
        return 0
    if current != built:
        OUTPUT.write_text(built, encoding="utf-8", newline="\n")
        print(f"wrote {OUTPUT.name}: {len(built.encode())} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
