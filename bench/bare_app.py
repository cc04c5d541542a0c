"""The baseline: a bare Flask app that answers the same 43-byte GIF and does nothing else."""

from flask import Flask, Response

from collector.web.responses import GIF, GIF_HEADERS

app = Flask(__name__)


@app.get("/t.gif")
def pixel() -> Response:
    """The GIF, with the collector's headers."""
    return Response(GIF, headers=GIF_HEADERS)
