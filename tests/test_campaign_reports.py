"""Campaign reports that count people: mixed tracking modes, unknown agents, machine-only
links, and the rates' estimate for mails that name nobody."""

from __future__ import annotations

import json
import time
from email.message import EmailMessage
from typing import Any

import pytest

from collector import clock
from collector.ingest.records import UNSUBSCRIBE_PAGE, build_email_event
from collector.mail import campaigns
from sdk import Mailer
from tests.conftest import TOKEN, make_app, make_config, seed, sql
from tests.test_email import BASE, CHROME, Links, path_of

HTML = """<html><body><p>Spring news.</p>
<p><a href="https://shop.example.com/spring" data-link-id="sale">Sale</a>
<a href="https://shop.example.com/shoes" data-link-id="shoes">Shoes</a>
<a href="https://shop.example.com/bags" data-link-id="bags">Bags</a></p>
<p><a data-cleargif="unsubscribe" href="#">Unsubscribe</a></p></body></html>"""


def prepared(mailer: Mailer, mode: str, recipient: str, sent_at: float) -> Links:
    """The pixel and links of one mail, prepared as docs/email.md shows."""
    msg = EmailMessage()
    msg["Subject"] = "Spring news"
    msg.set_content(HTML, subtype="html")
    mail = mailer.prepare(msg, "spring-2026", "news", mode=mode,  # type: ignore[arg-type]
                          recipient=recipient, sent_at=sent_at)
    links = Links()
    links.feed(mail.get_body(("html",)).get_content())
    return links


def fetch(client: Any, url: str, user_agent: str | None = CHROME) -> None:
    headers = {} if user_agent is None else {"User-Agent": user_agent}
    client.get(path_of(url), headers=headers, base_url=BASE)


def report(app: Any, *args: str) -> Any:
    out = app.test_cli_runner().invoke(args=["campaign", "report", "spring-2026", *args])
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout) if "json" in args else out.stdout


def mixed_campaign(app: Any, client: Any, opens_each: int = 1) -> None:
    """10 mails tracked individually and 20 in aggregate; every recipient opens."""
    mailer = Mailer(BASE, [TOKEN])
    sent_at = time.time() - 3600
    for i in range(30):
        mode = "individual" if i < 10 else "aggregate"
        links = prepared(mailer, mode, f"reader-{i:02d}", sent_at)
        for _ in range(opens_each):
            fetch(client, links.imgs[0])
    runner = app.test_cli_runner()
    for mode, count in (("individual", "10"), ("aggregate", "20")):
        out = runner.invoke(args=["campaign", "sent", "spring-2026", count, "--list", "news",
                                  "--mode", mode])
        assert out.exit_code == 0, out.output


def test_a_mixed_campaign_whose_every_recipient_opens_reports_100_percent(
        app: Any, client: Any) -> None:
    mixed_campaign(app, client)
    rep = report(app, "--format", "json")
    assert rep["sends"] == 30
    assert rep["sends_by_mode"] == {"individual": 10, "aggregate": 20, "none": 0,
                                    "unspecified": 0}
    assert rep["opens"]["human"] == 30 and rep["unique_human_opens"] == 10
    assert rep["open_rate"] == 1.0
    parts = rep["open_rate_parts"]
    assert parts["individual"] == {"sends": 10, "people": 10, "rate": 1.0}
    assert parts["aggregate"] == {"sends": 20, "human_opens": 20, "opens_per_person": 1.0,
                                  "per_person_measured": True, "people_estimated": 20.0,
                                  "rate": 1.0}
    text = report(app)
    assert "open rate             100.0% (about 30 people of 30 mails)" in text
    assert "individual          100.0% (10 distinct recipients of 10 mails)" in text
    assert "20 human opens, 1.00 per person as measured on individual mails" in text


def test_re_opens_measured_on_individual_mails_are_taken_out_of_aggregate_opens(
        app: Any, client: Any) -> None:
    """Every reader opens twice: 20 aggregate opens are 10 people, not 20."""
    mailer = Mailer(BASE, [TOKEN])
    sent_at = time.time() - 3600
    for i in range(20):
        links = prepared(mailer, "individual" if i < 10 else "aggregate", f"r{i}", sent_at)
        if i < 10 or i % 2:  # all individual readers, half the aggregate ones
            fetch(client, links.imgs[0])
            fetch(client, links.imgs[0])
    col = app.extensions["cleargif"]
    campaigns.record_sends(col.events, "spring-2026", 10, "news", 0, "individual")
    campaigns.record_sends(col.events, "spring-2026", 10, "news", 0, "aggregate")
    rep = campaigns.report(col.events, col.identity, "spring-2026", 5)
    aggregate = rep["open_rate_parts"]["aggregate"]
    assert aggregate["human_opens"] == 10 and aggregate["opens_per_person"] == 2.0
    assert aggregate["people_estimated"] == 5.0 and aggregate["rate"] == 0.5
    assert rep["open_rate"] == 0.75  # (10 + 5) / 20


def event(kind: str, recipient: str | None, agent: str = "human", link: str | None = None,
          campaign: str = "mixed") -> dict[str, Any]:
    return build_email_event(kind=kind, now=1_700_000_000, campaign=campaign, list_id="news",
                             recipient=recipient, agent_verdict=agent, user_agent=None,
                             accept_language=None, link=link,
                             target="https://shop.example.com/" if link else None)


def test_rates_never_pass_100_percent_and_say_when_sends_lack_their_mode(app: Any) -> None:
    col = app.extensions["cleargif"]
    seed(app, [event("open", f"r{i}") for i in range(8)]
         + [event("open", None) for _ in range(50)])
    campaigns.record_sends(col.events, "mixed", 6, "news", 0, "individual")
    campaigns.record_sends(col.events, "mixed", 10, "news", 0, "aggregate")
    rep = campaigns.report(col.events, col.identity, "mixed", 5)
    parts = rep["open_rate_parts"]
    assert parts["individual"]["people"] == 6 and parts["individual"]["rate"] == 1.0
    assert parts["aggregate"]["people_estimated"] == 10.0 and rep["open_rate"] == 1.0
    assert any("more than the 6 individual sends" in note for note in rep["notes"])


def test_sends_without_a_mode_are_guessed_from_the_campaign_s_events(app: Any) -> None:
    col = app.extensions["cleargif"]
    seed(app, [event("open", f"r{i}", campaign="ind") for i in range(6)]
         + [event("open", None, campaign="agg") for _ in range(6)])
    for name in ("ind", "agg"):
        campaigns.record_sends(col.events, name, 12, "news", 0)
    ind = campaigns.report(col.events, col.identity, "ind", 5)
    agg = campaigns.report(col.events, col.identity, "agg", 5)
    assert ind["sends_by_mode"] == {"individual": 12, "aggregate": 0, "none": 0,
                                    "unspecified": 12}
    assert agg["sends_by_mode"] == {"individual": 0, "aggregate": 12, "none": 0,
                                    "unspecified": 12}
    assert ind["open_rate"] == agg["open_rate"] == 0.5
    assert any("12 sends were recorded without a tracking mode and are counted as "
               "individual" in note for note in ind["notes"])


def test_a_small_part_hides_the_rate_and_the_other_part(app: Any) -> None:
    """Three individual readers and 40 aggregate opens: the total of human opens minus
    the aggregate opens would give the three readers' opens, so both parts go."""
    col = app.extensions["cleargif"]
    seed(app, [event("open", f"r{i}") for i in range(3)]
         + [event("open", None) for _ in range(40)])
    campaigns.record_sends(col.events, "mixed", 10, "news", 0, "individual")
    campaigns.record_sends(col.events, "mixed", 90, "news", 0, "aggregate")
    rep = campaigns.report(col.events, col.identity, "mixed", 5)
    assert rep["opens"]["human"] == 43 and rep["open_rate"] is None
    assert rep["open_rate_parts"]["individual"]["people"] is None
    assert rep["open_rate_parts"]["aggregate"]["human_opens"] is None
    assert {"open_rate_individual", "open_rate_aggregate", "open_rate"} <= set(
        rep["suppressed"])


# -- unknown agents, machine-only links, totals --------------------------------------------


def test_unknown_clicks_count_as_neither_and_lift_no_link_out_of_other(
        app: Any, client: Any) -> None:
    """Clicks with no User-Agent, or one nobody recognises, are their own column; one
    such click on a link with four readers leaves it folded."""
    mailer = Mailer(BASE, [TOKEN])
    sent_at = time.time() - 3600
    for i in range(10):
        links = prepared(mailer, "individual", f"reader-{i:02d}", sent_at)
        sale, shoes = [h for h in links.hrefs if h.startswith(BASE + "/c/")][:2]
        fetch(client, sale)
        if i < 4:
            fetch(client, shoes)
    odd = prepared(mailer, "individual", "reader-odd", sent_at)
    shoes = [h for h in odd.hrefs if h.startswith(BASE + "/c/")][1]
    for user_agent in (None, "", "x"):
        fetch(client, shoes, user_agent)
    rep = report(app, "--format", "json")
    assert rep["clicks"] == [
        {"link": "sale", "clicks": 10, "unique_clicks": 10, "machine_clicks": 0,
         "unknown_clicks": 0},
    ]
    assert rep["folded_links"] == 1 and rep["other_suppressed"] is True
    assert rep["click_totals"]["unknown_clicks"] is None  # one reader: under k


def test_links_only_machines_clicked_stay_with_their_machine_counts(app: Any) -> None:
    col = app.extensions["cleargif"]
    rows = [event("click", f"r{i}", link="sale") for i in range(6)]
    rows += [event("click", f"s{i}", "scanner", link="terms") for i in range(7)]
    rows += [event("click", f"s{i}", "scanner", link="sale") for i in range(7)]
    rows += [event("click", f"u{i}", "unknown", link="sale") for i in range(5)]
    seed(app, rows)
    rep = campaigns.report(col.events, col.identity, "mixed", 5)
    assert rep["clicks"] == [
        {"link": "sale", "clicks": 6, "unique_clicks": 6, "machine_clicks": 7,
         "unknown_clicks": 5},
        {"link": "terms", "clicks": 0, "unique_clicks": None, "machine_clicks": 7,
         "unknown_clicks": 0},
    ]
    assert rep["click_totals"] == {"human_clicks": 6, "unique_clicks": 6,
                                   "machine_clicks": 14, "unknown_clicks": 5}
    text = campaigns.report_text(rep)
    assert "terms                0 / - / 7 / 0" in text
    assert "total                6 / 6 / 14 / 5" in text


def test_small_machine_columns_fold_into_other(app: Any) -> None:
    col = app.extensions["cleargif"]
    rows = [event("click", f"r{i}", link="sale") for i in range(6)]
    rows += [event("click", f"s{i}", "scanner", link=f"l{i % 3}") for i in range(6)]
    seed(app, rows)
    rep = campaigns.report(col.events, col.identity, "mixed", 5)
    assert rep["clicks"] == [
        {"link": "sale", "clicks": 6, "unique_clicks": 6, "machine_clicks": 0,
         "unknown_clicks": 0},
        {"link": "(other)", "clicks": 0, "unique_clicks": None, "machine_clicks": 6,
         "unknown_clicks": 0},
    ]
    assert rep["folded_links"] == 3 and rep["click_totals"]["machine_clicks"] == 6


@pytest.mark.parametrize("mode", ["sometimes", "", "INDIVIDUAL"])
def test_a_bad_mode_is_refused(app: Any, mode: str) -> None:
    out = app.test_cli_runner().invoke(args=["campaign", "sent", "c", "5", "--mode", mode])
    assert out.exit_code == 2 and "Traceback" not in out.output
    token = app.test_cli_runner().invoke(
        args=["token", "new", "--scope", "sender", "--name", "m"]).stdout.strip()
    r = app.test_client().post("/api/v1/campaigns/c/sends", json={"count": 5, "mode": mode},
                               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and "individual, aggregate or none" in r.json["error"]


def test_the_api_records_sends_by_mode(app: Any) -> None:
    token = app.test_cli_runner().invoke(
        args=["token", "new", "--scope", "sender,aggregate", "--name", "m"]).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    for mode, count in (("individual", 10), ("aggregate", 20), ("none", 5)):
        r = client.post("/api/v1/campaigns/spring-2026/sends",
                        json={"count": count, "list": "news", "mode": mode}, headers=auth)
        assert r.status_code == 200
    rep = client.get("/api/v1/campaigns/spring-2026", headers=auth).json
    assert rep["sends"] == 35 and rep["sends_by_mode"]["none"] == 5
    # Mails without a pixel cannot be opened: they count for clicks only.
    assert rep["open_rate_parts"]["sends"] == 30 and rep["click_rate_parts"]["sends"] == 35


# -- scanners told by their burst ----------------------------------------------------------


def test_scanners_with_a_browser_user_agent_are_caught_by_their_burst(
        app: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway fetches the pixel, all three links and the unsubscribe page of five
    mails within 20 ms each, 13 s after they were prepared (past the too-soon window),
    with a browser's User-Agent; five readers open and click at a reader's pace."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    mailer = Mailer(BASE, [TOKEN])
    sent_at = now[0]
    mails = [prepared(mailer, "individual", f"reader-{i:02d}", sent_at) for i in range(10)]
    now[0] += 13
    for links in mails[:5]:
        for url in links.imgs + [h for h in links.hrefs if h.startswith(BASE)]:
            fetch(client, url)
            now[0] += 0.004
    for links in mails[5:]:
        sale, shoes = [h for h in links.hrefs if h.startswith(BASE + "/c/")][:2]
        now[0] += 600
        fetch(client, links.imgs[0])
        now[0] += 30
        fetch(client, sale)
        now[0] += 60
        fetch(client, shoes)
    col = app.extensions["cleargif"]
    pages = sql(app, "events", "SELECT agent, recipient IS NOT NULL FROM events WHERE name = ?",
                (UNSUBSCRIBE_PAGE,))
    assert pages == [("human", 1)] * 5  # recorded for the burst; a browser's User-Agent
    assert sql(app, "identity", "SELECT COUNT(*) FROM suppressions") == [(0,)]
    campaigns.record_sends(col.events, "spring-2026", 10, "news", 0, "individual")

    before = campaigns.report(col.events, col.identity, "spring-2026", 5, burst_seconds=0)
    assert before["opens"]["human"] == 10 and before["open_rate"] == 1.0
    assert before["click_totals"]["human_clicks"] == 25

    rep = campaigns.report(col.events, col.identity, "spring-2026", 5)
    assert rep["opens"]["human"] == 5 and rep["opens"]["machine"] == 5
    assert rep["open_rate"] == 0.5
    assert rep["clicks"] == [
        {"link": "bags", "clicks": 0, "unique_clicks": None, "machine_clicks": 5,
         "unknown_clicks": 0},
        {"link": "sale", "clicks": 5, "unique_clicks": 5, "machine_clicks": 5,
         "unknown_clicks": 0},
        {"link": "shoes", "clicks": 5, "unique_clicks": 5, "machine_clicks": 5,
         "unknown_clicks": 0},
    ]
    assert rep["click_totals"] == {"human_clicks": 10, "unique_clicks": 5,
                                   "machine_clicks": 15, "unknown_clicks": 0}
    assert any("scanner's burst" in note for note in rep["notes"])
    # The CLI reads the window from EMAIL_BURST_SECONDS.
    cli = json.loads(app.test_cli_runner().invoke(
        args=["campaign", "report", "spring-2026", "--format", "json"]).stdout)
    assert cli["opens"] == rep["opens"]


def test_the_burst_window_is_a_setting(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pixel and two links 5 s apart each: a reader under the 2 s default, a scanner
    under a 20 s window, and no burst at all with 0."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    mailer = Mailer(BASE, [TOKEN])
    found = []
    for window in (None, 20, 0):
        config = {} if window is None else {"EMAIL_BURST_SECONDS": window}
        app = make_app(make_config(tmp_path / str(window), **config))
        client = app.test_client()
        for i in range(5):
            links = prepared(mailer, "individual", f"reader-{i:02d}", now[0] - 3600)
            for url in links.imgs + [h for h in links.hrefs if h.startswith(BASE + "/c/")][:2]:
                fetch(client, url)
                now[0] += 5
        out = app.test_cli_runner().invoke(args=["campaign", "report", "spring-2026",
                                                 "--format", "json"])
        found.append(json.loads(out.stdout)["opens"]["machine"])
        app.extensions["cleargif"].close()
    assert found == [0, 5, 0]


def test_an_aggregate_mail_s_unsubscribe_page_records_nothing(app: Any, client: Any) -> None:
    """Its unsubscribe link names the recipient, but its opens and clicks do not: the
    event store must not learn the recipient from the page."""
    mailer = Mailer(BASE, [TOKEN])
    links = prepared(mailer, "aggregate", "reader-01", time.time() - 3600)
    for url in links.imgs + [h for h in links.hrefs if h.startswith(BASE)]:
        fetch(client, url)
    unsubscribe = next(h for h in links.hrefs if h.startswith(BASE + "/u/"))
    assert client.head(path_of(unsubscribe), base_url=BASE).status_code == 200
    assert sql(app, "events", "SELECT COUNT(*) FROM events WHERE recipient IS NOT NULL OR "
                              "name = ?", (UNSUBSCRIBE_PAGE,)) == [(0,)]
    individual = prepared(mailer, "individual", "reader-02", time.time() - 3600)
    unsubscribe = next(h for h in individual.hrefs if h.startswith(BASE + "/u/"))
    fetch(client, unsubscribe)  # before any open or click of it: nothing to group with
    fetch(client, individual.imgs[0])
    assert client.head(path_of(unsubscribe), base_url=BASE).status_code == 200
    assert sql(app, "events", "SELECT kind, agent, link FROM events WHERE name = ?",
               (UNSUBSCRIBE_PAGE,)) == [("click", "scanner", None)]  # HEAD: a scanner
    assert client.post(path_of(unsubscribe), base_url=BASE).status_code == 200
    assert sql(app, "events", "SELECT COUNT(*) FROM events WHERE name = ?",
               (UNSUBSCRIBE_PAGE,)) == [(1,)]  # the confirmation is no page fetch


# -- campaign names at the API -------------------------------------------------------------


def test_the_api_takes_the_names_the_sdk_takes_and_refuses_the_others(app: Any) -> None:
    """The real-world names of the SDK's table, from both sides, through
    POST /api/v1/campaigns/<id>/sends: readable ones are recorded as written, identifying
    and opaque ones get a 400 that never repeats them."""
    from urllib.parse import quote

    from tests.test_sdk_naming import ACCEPTED, REFUSED

    token = app.test_cli_runner().invoke(
        args=["token", "new", "--scope", "sender", "--name", "m"]).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    for name in ACCEPTED:
        r = client.post(f"/api/v1/campaigns/{quote(name, safe='')}/sends",
                        json={"count": 3, "list": "news"}, headers=auth)
        assert r.status_code == 200 and r.json["sends"] == 3, name
    for name, words in REFUSED:
        r = client.post(f"/api/v1/campaigns/{quote(name, safe='')}/sends",
                        json={"count": 3, "list": "news"}, headers=auth)
        assert r.status_code == 400 and words in r.json["error"], name
        assert name.strip() not in r.get_data(as_text=True), name
    stored = {row[0] for row in sql(app, "events", "SELECT campaign FROM campaign_sends")}
    assert stored == set(ACCEPTED)


# -- suppressions with their reason ----------------------------------------------------------


def test_suppressions_carry_their_reason_through_the_api_and_into_reports(
        app: Any, client: Any) -> None:
    token = app.test_cli_runner().invoke(
        args=["token", "new", "--scope", "sender,aggregate", "--name", "m"]).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    entries = [{"list": "*", "recipient": f"b{i}", "campaign": "spring-2026",
                "reason": "bounce"} for i in range(5)]
    entries += [{"list": "*", "recipient": f"c{i}", "campaign": "spring-2026",
                 "reason": "complaint"} for i in range(2)]
    entries += [{"list": "news", "recipient": "m1"}]  # manual unless said
    r = client.post("/api/v1/suppressions", json={"suppressions": entries}, headers=auth)
    assert r.status_code == 200 and r.json == {"added": 8}
    mailer = Mailer(BASE, [TOKEN])
    for i in range(5):
        url = mailer.unsubscribe_url("spring-2026", "news", recipient=f"u{i}")
        assert client.post(path_of(url), base_url=BASE).status_code == 200
    listed = client.get("/api/v1/suppressions?since=2020-01-01", headers=auth).json
    reasons = {entry["recipient"]: entry["reason"] for entry in listed["suppressions"]}
    assert reasons["b0"] == "bounce" and reasons["c1"] == "complaint"
    assert reasons["m1"] == "manual" and reasons["u4"] == "unsubscribe"
    rep = client.get("/api/v1/campaigns/spring-2026", headers=auth).json
    # Unsubscribes are the recipients' own requests; bounces are not unsubscribes.
    assert (rep["unsubscribes"], rep["bounces"], rep["complaints"]) == (5, 5, None)
    assert "complaints" in rep["suppressed"]
    for bad in ("spam", "", None, 3, "Bounce"):
        r = client.post("/api/v1/suppressions", json={"suppressions": [
            {"list": "news", "recipient": "x1", "reason": bad}]}, headers=auth)
        assert r.status_code == 400 and "unsubscribe, bounce, complaint, manual" in \
            r.json["error"], bad


def test_a_kept_report_is_made_again_when_what_it_reads_changes(app: Any) -> None:
    col = app.extensions["cleargif"]
    cache = campaigns.ReportCache()
    seed(app, [event("open", f"r{i}") for i in range(6)])
    campaigns.record_sends(col.events, "mixed", 10, "news", 0, "individual")
    made: list[str] = []
    real = campaigns.report

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        made.append(args[2])
        return real(*args, **kwargs)

    campaigns.report = counting  # type: ignore[assignment]
    try:
        first = cache.report(col.events, col.identity, "mixed", 5)
        assert cache.report(col.events, col.identity, "mixed", 5) == first and len(made) == 1
        seed(app, [event("open", "r9")])  # a new open
        assert cache.report(col.events, col.identity, "mixed", 5)["opens"] != first["opens"]
        campaigns.record_sends(col.events, "mixed", 5, "news", 0, "individual")  # sends
        assert cache.report(col.events, col.identity, "mixed", 5)["sends"] == 15
        assert len(made) == 3
        campaigns.suppress(col.identity, "news", "r1", "mixed", 0, "complaint")  # a complaint
        cache.report(col.events, col.identity, "mixed", 5)
        assert len(made) == 4
        assert cache.report(col.events, col.identity, "mixed", 1)["complaints"] == 1  # k
        assert len(made) == 5
    finally:
        campaigns.report = real  # type: ignore[assignment]
