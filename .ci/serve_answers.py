"""Start ``cleargif serve`` as the README's first command does (on a fresh data folder)
and check that it answers (``/healthz``, the demo page and a page-view pixel) and that it
stops within 15 s of SIGTERM. Exits non-zero, with the server's output, when it does not.

Usage: ``python .ci/serve_answers.py PATH_TO_CLEARGIF DATA_DIR``
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def main() -> int:
    cleargif, data = sys.argv[1], sys.argv[2]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARGIF_")}
    env["CLEARGIF_DATA_DIR"] = data
    server = subprocess.Popen([cleargif, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    answers: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            try:
                for path in ("/healthz", "/", "/t.gif?p=/ci"):
                    with urllib.request.urlopen(base + path, timeout=5) as resp:
                        answers[path] = resp.status
                break
            except OSError:
                time.sleep(0.2)
    finally:
        # SIGTERM to the whole group, as a terminal or a service manager does, at once:
        # workers still booting must stop too (not wait for the 30 s graceful timeout).
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            output = server.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            output = server.communicate()[0] + "\n(did not stop within 15 s of SIGTERM)"
            answers["stopped"] = 0
    if answers != {"/healthz": 200, "/": 200, "/t.gif?p=/ci": 200}:
        print(f"cleargif serve did not answer as it should ({answers}):\n{output}",
              file=sys.stderr)
        return 1
    print(f"cleargif serve answered /healthz, / and /t.gif on a bare install ({port})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
