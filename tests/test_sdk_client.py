"""The admin API client (sdk.client) against a tiny local HTTP server."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sdk.client import AdminClient
from sdk.errors import ApiError, CleargifError, ConfigError

TOKEN = "api-token-0123456789"
SUPPRESSIONS = [
    {
        "list": "news",
        "recipient": "u_42",
        "campaign": "spring",
        "created_at": "2024-03-02T10:00:00+00:00",
    },
    {"list": "*", "recipient": "u_7", "campaign": None, "created_at": "2024-03-03T08:00:00Z"},
]


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def answer(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.route()

        def do_POST(self) -> None:
            self.route()

        def route(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            path = urlsplit(self.path).path
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.answer(401, {"error": "A valid bearer token is required."})
            elif path.startswith("/api/v1/campaigns/") and path.endswith("/sends"):
                sent = json.loads(body)
                self.answer(200, {"campaign": path.split("/")[4], "recorded": sent["count"]})
            elif path == "/api/v1/campaigns/forbidden":
                self.answer(403, {"error": "This token lacks the 'aggregate' scope."})
            elif path == "/api/v1/campaigns/missing":
                self.answer(404, b"<html>Not Found</html>", "text/html")
            elif path == "/api/v1/campaigns/empty-error":
                self.answer(500, b"")
            elif path == "/api/v1/campaigns/not-json":
                self.answer(200, b"<html>hello</html>", "text/html")
            elif path == "/api/v1/campaigns/array":
                self.answer(200, [1, 2])
            elif path == "/api/v1/campaigns/no-content":
                self.send_response(204)
                self.end_headers()
            elif path == "/api/v1/campaigns/moved":
                self.send_response(302)
                self.send_header("Location", server.url + "/api/v1/campaigns/spring")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/api/v1/campaigns/slow":
                time.sleep(1.5)
                with contextlib.suppress(OSError):  # the client has given up by now
                    self.answer(200, {})
            elif path.startswith("/api/v1/campaigns/"):
                self.answer(200, {"campaign": path.split("/")[4], "sends": 1200, "opens": {}})
            elif path == "/api/v1/suppressions":
                query = parse_qs(urlsplit(self.path).query)
                if query.get("since") == ["bad-shape"]:
                    self.answer(200, {"suppressions": "nope"})
                else:
                    self.answer(200, {"suppressions": SUPPRESSIONS, "next_since": None})
            elif path == "/api/v1/aggregate":
                self.answer(200, {"query": parse_qs(urlsplit(self.path).query)})
            else:
                self.answer(404, {"error": "No such endpoint."})

    return Handler


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    state = Server(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


@pytest.fixture
def client(server: Server) -> AdminClient:
    return AdminClient(server.url, TOKEN, timeout=5)


def test_record_sends(client: AdminClient, server: Server) -> None:
    answer = client.record_sends("spring/2024 #1", 1200, list="news")
    assert answer == {"campaign": "spring%2F2024%20%231", "recorded": 1200}
    seen = server.seen[-1]
    assert seen.method == "POST"
    assert seen.path == "/api/v1/campaigns/spring%2F2024%20%231/sends"
    assert json.loads(seen.body) == {"count": 1200, "list": "news"}
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept"] == "application/json"
    client.record_sends("spring", 0)
    assert json.loads(server.seen[-1].body) == {"count": 0}
    client.record_sends("spring", 10, list="news", mode="individual")
    assert json.loads(server.seen[-1].body) == {"count": 10, "list": "news",
                                                "mode": "individual"}


@pytest.mark.parametrize("mode", ["", "Individual", "per-recipient", 1, ["none"]])
def test_record_sends_refuses_a_mode_it_does_not_know(
        client: AdminClient, server: Server, mode: Any) -> None:
    with pytest.raises(ValueError, match=r"^The tracking mode must be individual, aggregate "
                                         r"or none .+\.$"):
        client.record_sends("spring", 5, mode=mode)
    assert server.seen == []


@pytest.mark.parametrize(
    "count", [-1, 1.5, True, "3", None, 10**9 + 1, 10**5000, "x" * 100_000],
    ids=["negative", "float", "bool", "str", "none", "over-limit", "huge-int", "long-str"],
)
def test_record_sends_refuses_bad_counts(client: AdminClient, server: Server, count: Any) -> None:
    with pytest.raises(ValueError, match=r"^The send count .+\.$") as info:
        client.record_sends("spring", count)
    assert server.seen == []
    assert len(str(info.value)) < 150  # the value is named, never dumped


@pytest.mark.parametrize(
    "list_id", [b"news", 5, "", ["news"], 10**5000, "\ud800"],
    ids=["bytes", "int", "empty", "list", "huge-int", "surrogate"],
)
def test_record_sends_refuses_a_list_that_is_not_text(
        client: AdminClient, server: Server, list_id: Any) -> None:
    with pytest.raises(ValueError, match=r"^The list .+\.$"):
        client.record_sends("spring", 5, list=list_id)
    assert server.seen == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.record_sends("\ud800", 5),
        lambda c: c.campaign_report("spring\udcff"),
        lambda c: c.suppressions(since="\ud800"),
        lambda c: c.suppressions(since=10**5000),
        lambda c: c.aggregate(since="\ud800"),
        lambda c: c.aggregate(period=[1, 10**5000]),
    ],
    ids=["campaign", "report", "since", "since-huge-int", "aggregate", "aggregate-list"],
)
def test_unsendable_values_are_refused_with_a_sentence(
        client: AdminClient, server: Server, call: Any) -> None:
    with pytest.raises(ValueError) as info:
        call(client)
    assert not isinstance(info.value, UnicodeError)
    message = str(info.value)
    assert message[:1].isupper() and message.endswith(".")
    assert server.seen == []


def test_suppressions(client: AdminClient, server: Server) -> None:
    assert client.suppressions() == SUPPRESSIONS
    assert server.seen[-1].path == "/api/v1/suppressions"
    assert server.seen[-1].method == "GET"
    assert server.seen[-1].body == b""


@pytest.mark.parametrize(
    ("since", "sent"),
    [
        ("2024-03-01", "2024-03-01"),
        ("2024-03-01T00:00:00+01:00", "2024-03-01T00:00:00+01:00"),
        (datetime(2024, 3, 1, 12, tzinfo=UTC), "2024-03-01T12:00:00+00:00"),
        (
            datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=2))),
            "2024-03-01T10:00:00+00:00",
        ),
    ],
)
def test_suppressions_since(client: AdminClient, server: Server, since: Any, sent: str) -> None:
    client.suppressions(since=since)
    query = parse_qs(urlsplit(server.seen[-1].path).query)
    assert query == {"since": [sent]}  # a "+" in an offset arrives as "+", not a space


def test_suppressions_refuses_naive_datetimes(client: AdminClient, server: Server) -> None:
    with pytest.raises(ValueError, match="naive"):
        client.suppressions(since=datetime(2024, 3, 1))
    assert server.seen == []


def test_suppressions_checks_the_answer_shape(client: AdminClient) -> None:
    with pytest.raises(CleargifError, match="suppression"):
        client.suppressions(since="bad-shape")


def test_campaign_report(client: AdminClient, server: Server) -> None:
    assert client.campaign_report("spring")["sends"] == 1200
    assert server.seen[-1].path == "/api/v1/campaigns/spring"
    client.campaign_report("a/b?c")
    assert server.seen[-1].path == "/api/v1/campaigns/a%2Fb%3Fc"


def test_aggregate(client: AdminClient, server: Server) -> None:
    answer = client.aggregate(
        start=date(2024, 3, 1),
        until="2024-03-31",
        by=["path", "browser"],
        bots=False,
        site=None,
        k=5,
    )
    assert answer["query"] == {
        "start": ["2024-03-01"],
        "until": ["2024-03-31"],
        "by": ["path", "browser"],
        "bots": ["false"],
        "k": ["5"],
    }
    client.aggregate()
    assert server.seen[-1].path == "/api/v1/aggregate"


@pytest.mark.parametrize(
    ("campaign", "status", "message"),
    [
        ("forbidden", 403, "This token lacks the 'aggregate' scope."),
        ("missing", 404, "<html>Not Found</html>"),
        ("empty-error", 500, "Internal Server Error"),
    ],
)
def test_non_2xx_raises_api_error(
    client: AdminClient, campaign: str, status: int, message: str
) -> None:
    with pytest.raises(ApiError) as info:
        client.campaign_report(campaign)
    assert info.value.status == status
    assert info.value.message == message
    assert str(info.value) == f"The collector answered HTTP {status}: {message}"
    assert isinstance(info.value, CleargifError)


def test_wrong_token_gets_401(server: Server) -> None:
    with pytest.raises(ApiError) as info:
        AdminClient(server.url, "wrong-token").suppressions()
    assert (info.value.status, info.value.message) == (401, "A valid bearer token is required.")


def test_redirects_are_not_followed(client: AdminClient, server: Server) -> None:
    with pytest.raises(ApiError) as info:
        client.campaign_report("moved")
    assert info.value.status == 302
    # The bearer token was not replayed to the redirect target.
    assert [seen.path for seen in server.seen] == ["/api/v1/campaigns/moved"]


def test_204_answers_an_empty_object(client: AdminClient) -> None:
    assert client.campaign_report("no-content") == {}


@pytest.mark.parametrize("campaign", ["not-json", "array"])
def test_answers_that_are_not_json_objects_are_refused(client: AdminClient, campaign: str) -> None:
    with pytest.raises(CleargifError) as info:
        client.campaign_report(campaign)
    assert not isinstance(info.value, ApiError)


def test_timeout(server: Server) -> None:
    started = time.monotonic()
    with pytest.raises(CleargifError, match="Could not reach"):
        AdminClient(server.url, TOKEN, timeout=0.3).campaign_report("slow")
    assert time.monotonic() - started < 1.4


def test_unreachable_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CleargifError, match="Could not reach"):
        AdminClient(f"http://127.0.0.1:{port}", TOKEN, timeout=2).suppressions()


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "stats.example.com",
        "http://stats.example.com",
        "http://10.0.0.5:5000",
        "ftp://stats.example.com",
        "https://stats.example.com/?x=1",
        "https://user:pw@stats.example.com",
    ],
)
def test_bad_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ConfigError) as info:
        AdminClient(base_url, TOKEN)
    assert info.value.key == "base_url"


@pytest.mark.parametrize(
    "base_url", ["https://stats.example.com/", "http://localhost:5000", "http://[::1]:5000"]
)
def test_good_base_urls(base_url: str) -> None:
    client = AdminClient(base_url, TOKEN)
    assert not client.base_url.endswith("/")
    assert TOKEN not in repr(client)


@pytest.mark.parametrize("token", ["", "two words", "line\nbreak", None])
def test_bad_tokens_are_refused(token: Any) -> None:
    with pytest.raises(ConfigError) as info:
        AdminClient("https://stats.example.com", token)
    assert info.value.key == "token"


@pytest.mark.parametrize(
    "timeout", [0, -1, True, "10", 10**5000, float("nan"), float("inf")],
    ids=["zero", "negative", "bool", "str", "huge-int", "nan", "inf"],
)
def test_bad_timeouts_are_refused(timeout: Any) -> None:
    with pytest.raises(ConfigError):
        AdminClient("https://stats.example.com", TOKEN, timeout=timeout)
