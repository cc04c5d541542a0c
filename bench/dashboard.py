"""Benchmark: the server time of a full dashboard page, next to the same aggregates
through ``export`` alone.

It fills a data folder through the storage API, as the hit path and the consent endpoint
would (``add_event``, ``count_dropped``, ``append_receipt``, ``add_sends``): by default
1,000,000 events over the 365 days up to today, from visitors who accept, refuse or never
decide, with bots, events, email opens and clicks, and a consent receipt per decision.
Then it signs in with Flask's test client (the page is rendered in this process, so the
time is the server's, without a network) and loads the page for the last 30 days and for
the last 12 months, ``--rounds`` times each, and times the page's own export queries
alone. It checks that the work happened: the pages name the top page, and the exports
return rows.

Before timing, the days are summarised as the daily purge would (daily totals,
:mod:`collector.analytics.daily`), and that time is reported. Next to the page and its
exports, the same exports without daily totals (exact distinct counts over the period,
from raw events) are timed once, for comparison.

PostgreSQL is measured too when its server programs are here (a throwaway server from
``tests/pgserver.py``, both stores copied from the SQLite folder by ``cleargif copy``'s
code), or on ``--postgres EVENTS_URL,IDENTITY_URL``; ``--no-postgres`` skips it.

Run: ``python bench/dashboard.py [--events 1000000] [--rounds 5] [--data DIR]``. The data
folder is kept (default under the system's temporary folder, named after the settings)
and reused by the next run with the same settings.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from collector import create_app  # noqa: E402
from collector.analytics import daily  # noqa: E402
from collector.analytics.export import export  # noqa: E402
from collector.consent.receipts import ReceiptKeys, build_receipt, canonical  # noqa: E402
from collector.consent.rules import Decision  # noqa: E402
from collector.ingest.records import FIELDS  # noqa: E402
from collector.storage import EventStore, IdentityStore  # noqa: E402

SITE = "www.example.com"
SECRET = "bench-secret-key-0123456789abcdef"
TOKEN = "bench-token-key-0123456789abcdef"
USER, PASSWORD = "bench", "bench-password-0123"
DAY = 86400

PATHS = ["/", "/pricing", "/docs", "/docs/install", "/docs/api", "/blog",
         *(f"/blog/post-{i}" for i in range(120)), *(f"/docs/page-{i}" for i in range(80)),
         "/about", "/contact", "/careers", "/changelog", "/signup", "/login"]
REFERRERS = [None] * 8 + ["www.google.com"] * 6 + ["duckduckgo.com", "www.bing.com",
                                                   "news.ycombinator.com", "www.reddit.com",
                                                   "github.com", "t.co", "mastodon.social",
                                                   "lobste.rs", "newsletter.example.net"]
UTM = [(None, None, None)] * 12 + [("newsletter", "email", "december-digest"),
                                   ("mastodon", "social", "launch-week"),
                                   ("github", "referral", None),
                                   ("podcast", "audio", "episode-41")]
AGENTS = [("Chrome", "Windows", "desktop"), ("Chrome", "Mac OS X", "desktop"),
          ("Firefox", "Linux", "desktop"), ("Safari", "Mac OS X", "desktop"),
          ("Edge", "Windows", "desktop"), ("Chrome Mobile", "Android", "mobile"),
          ("Mobile Safari", "iOS", "mobile"), ("Samsung Internet", "Android", "mobile"),
          ("Mobile Safari", "iOS", "tablet"), ("Firefox", "Windows", "desktop")]
LANGS = ["en"] * 8 + ["de"] * 4 + ["fr", "es", "ar", "nl", "ja", "pt"]
EVENTS = ["signup", "download", "play-video", "copy-snippet"]
BOTS = [("Googlebot", "Other"), ("bingbot", "Other"), ("AhrefsBot", "Other")]
CAMPAIGNS = ["november-digest", "december-digest", "launch-week"]
LINKS = ["cta", "docs", "pricing", "unsubscribe-footer"]


def _weights(n: int) -> list[float]:
    return [1 / (i + 1) for i in range(n)]


def generate(events: EventStore, identity: IdentityStore, *, count: int, days: int,
             end: date, seed: int = 1, progress: bool = True) -> dict[str, int]:
    """Write ``count`` events over the ``days`` local (UTC) days up to ``end``, through the
    storage API, with dropped counters, campaign sends and consent receipts; returns what
    was written."""
    rng = random.Random(seed)
    start_day = end - timedelta(days=days - 1)
    start = int(time.mktime(start_day.timetuple())) // DAY * DAY
    # Growth over the period and a weekly rhythm: later days and weekdays are busier.
    day_weights = [(0.6 + 0.8 * i / max(days - 1, 1)) * (0.7 if (start_day + timedelta(
        days=i)).weekday() >= 5 else 1.0) for i in range(days)]
    scale = count / sum(day_weights)
    path_weights = _weights(len(PATHS))
    keys = ReceiptKeys([SECRET])
    written = {"events": 0, "receipts": 0, "dropped": 0}
    visitor_pool: list[tuple[str, tuple[str, str, str], str]] = []
    for i in range(days):
        day_start = start + i * DAY
        target = round(day_weights[i] * scale) if i < days - 1 else count - written["events"]
        n = 0
        while n < target:
            # A visit: a browser, its consent, 1 to 8 hits.
            if visitor_pool and rng.random() < 0.35:
                visitor, agent, lang = rng.choice(visitor_pool)
            else:
                visitor, agent, lang = (f"{rng.getrandbits(128):032x}", rng.choice(AGENTS),
                                        rng.choice(LANGS))
                if len(visitor_pool) < 50_000:
                    visitor_pool.append((visitor, agent, lang))
            choice = rng.random()
            purposes = ("analytics", "personalization", "marketing") if choice < 0.45 else \
                ("analytics",) if choice < 0.6 else ()
            session = f"{rng.getrandbits(128):032x}" if "analytics" in purposes else None
            vid = visitor if "personalization" in purposes else None
            moment = day_start + rng.randrange(DAY)
            if choice < 0.7 and rng.random() < 0.25:
                gpc = rng.random() < 0.08
                dnt = not purposes and rng.random() < 0.3
                granted = tuple(p for p in purposes if not (gpc and p == "marketing"))
                denied = tuple(p for p in ("analytics", "personalization", "marketing")
                               if p not in granted)
                receipt_id = f"{rng.getrandbits(128):032x}"
                body = build_receipt(receipt_id=receipt_id, subject_id=visitor, now=moment,
                                     revision=1, notice_sha256="0" * 64, lang=lang,
                                     decision=Decision(granted, denied, False),
                                     source="banner-accept-all" if len(granted) == 3
                                     else "dialog" if granted else "banner-reject-all",
                                     gpc=gpc, dnt=dnt)
                identity.append_receipt(receipt_id, visitor, moment, canonical(body), keys.sign)
                written["receipts"] += 1
            referrer = rng.choice(REFERRERS)
            source, medium, campaign = rng.choice(UTM)
            for _ in range(min(1 + int(rng.expovariate(0.6)), 8, target - n)):
                record = dict.fromkeys(FIELDS)
                record.update(ts=moment, kind="pageview", name="pageview", site=SITE,
                              path=rng.choices(PATHS, path_weights)[0],
                              referrer_host=referrer, utm_source=source, utm_medium=medium,
                              utm_campaign=campaign, browser=agent[0], browser_major="120",
                              os=agent[1], device=agent[2], lang=lang,
                              purposes=",".join(purposes), revision=1, session_id=session,
                              visitor_id=vid)
                roll = rng.random()
                if roll < 0.04:
                    record.update(kind="event", name=rng.choice(EVENTS))
                elif roll < 0.07:
                    bot, os_name = rng.choice(BOTS)
                    record.update(browser=bot, os=os_name, device="bot", session_id=None,
                                  visitor_id=None, purposes="", referrer_host=None,
                                  utm_source=None, utm_medium=None, utm_campaign=None)
                elif roll < 0.09:
                    record.update(kind=rng.choice(("open", "open", "open", "click")),
                                  name=None, path=None, referrer_host=None, utm_source=None,
                                  utm_medium=None, utm_campaign=None, session_id=None,
                                  visitor_id=None, purposes="",
                                  campaign=rng.choice(CAMPAIGNS), list="news",
                                  recipient=f"r-{rng.randrange(4000)}",
                                  agent=rng.choices(("human", "apple_mpp", "google_proxy",
                                                     "scanner", "prefetch"),
                                                    (55, 25, 8, 8, 4))[0])
                    if record["kind"] == "click":
                        record["link"] = rng.choice(LINKS)
                events.add_event(record)
                n += 1
                moment = min(moment + rng.randrange(5, 240), day_start + DAY - 1)
        written["events"] += n
        label = (start_day + timedelta(days=i)).isoformat()
        for reason, mean in (("prefetch", 6), ("site", 3), ("consent", 40), ("network", 2)):
            for _ in range(rng.randrange(2 * mean * count // 1_000_000 + 1)):
                events.count_dropped(label, reason)
                written["dropped"] += 1
        if progress and (i % 30 == 0 or i == days - 1):
            print(f"  day {i + 1}/{days}: {written['events']:,} events, "
                  f"{written['receipts']:,} receipts", file=sys.stderr, flush=True)
    for campaign in CAMPAIGNS:
        events.add_sends(campaign, "news", 4000, start)
    return written


def build(data: Path, count: int, days: int, seed: int) -> dict[str, Any]:
    """The data folder for these settings, generated unless an earlier run left it."""
    done = data / "generated.json"
    if done.exists():
        return dict(json.loads(done.read_text()))
    data.mkdir(parents=True, exist_ok=True)
    app = create_app({"DATA_DIR": str(data), "SECRET_KEYS": [SECRET], "TOKEN_KEYS": [TOKEN],
                      "ALLOWED_ORIGINS": [f"https://{SITE}"]})
    col = app.extensions["cleargif"]
    col.events.migrate()
    col.identity.migrate()
    end = date.today()
    print(f"Generating {count:,} events over {days} days in {data} …", file=sys.stderr)
    began = time.monotonic()
    written = generate(col.events, col.identity, count=count, days=days, end=end, seed=seed)
    # Leave no write-ahead log behind: readers would walk it for every page they read.
    col.events.flush_deleted()
    col.identity.flush_deleted()
    col.close()
    info = {**written, "end": end.isoformat(), "days": days,
            "seconds": round(time.monotonic() - began, 1)}
    done.write_text(json.dumps(info))
    return info


def summarise(data: Path) -> dict[str, Any]:
    """Summarise the days not summarised yet, as the daily purge does; how long it took."""
    app = create_app({"DATA_DIR": str(data), "SECRET_KEYS": [SECRET], "TOKEN_KEYS": [TOKEN]})
    col = app.extensions["cleargif"]
    began = time.monotonic()
    days = daily.summarise(col.events, col.settings.tz, time.time())
    seconds = round(time.monotonic() - began, 1)
    col.events.flush_deleted()
    col.close()
    return {"summarised_days": days, "summarise_seconds": seconds}


def median_ms(samples: list[float]) -> str:
    """A median in milliseconds, with the spread."""
    return (f"{statistics.median(samples) * 1000:,.0f} ms (min {min(samples) * 1000:,.0f}, "
            f"max {max(samples) * 1000:,.0f})")


def run(data: Path, rounds: int, stores: dict[str, str] | None = None) -> None:
    """Sign in and time the page and its exports for 30 days and for 12 months."""
    from werkzeug.datastructures import MultiDict

    from collector.dashboard import auth, panels
    from collector.dashboard.choices import GROUPS, parse

    app = create_app({"DATA_DIR": str(data), "SECRET_KEYS": [SECRET], "TOKEN_KEYS": [TOKEN],
                      "ALLOWED_ORIGINS": [f"https://{SITE}"], "COOKIE_SECURE": False,
                      **(stores or {})})
    col = app.extensions["cleargif"]
    if col.identity.user_password_hash(USER) is None:
        auth.add_user(col.identity, USER, PASSWORD)
    client = app.test_client()
    form = client.get("/dashboard/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "no sign-in form"
    signed = client.post("/dashboard/login", data={"csrf_token": token.group(1),
                                                   "username": USER, "password": PASSWORD})
    assert signed.status_code == 302, signed.status_code
    today = col.settings.tz and date.today()
    year_since = (today - timedelta(days=364)).isoformat()
    views = {"30 days": "period=30d",
             "12 months": f"period=custom&since={year_since}&until={today.isoformat()}"}
    k = col.config["K_MIN"]
    print(f"\n{'view':<10} {'full page (server)':<34} {'the same exports alone':<34} "
          "exports without daily totals (once)")
    for label, query in views.items():
        url = f"/dashboard/?site={SITE}&{query}"
        page_times, export_times = [], []
        for _ in range(rounds):
            began = time.perf_counter()
            page = client.get(url)
            page_times.append(time.perf_counter() - began)
            assert page.status_code == 200, page.status_code
            assert '<a class="text"' in page.text and "/pricing" in page.text, \
                "the page shows no table rows"
            with app.test_request_context(url):
                choices = parse(MultiDict(dict(p.split("=") for p in f"site={SITE}&{query}"
                                               .split("&"))), sites=[SITE], today=today)
            tz = col.settings.timezone
            queries = [panels.series_query(choices, tz),
                       panels.totals_query(choices, choices.period, tz),
                       panels.bots_query(choices, tz)]
            before = choices.period.previous()
            if before is not None:
                queries.append(panels.totals_query(choices, before, tz))
            queries += [panels.table_query(choices, choices.tab(g), tz) for g in GROUPS]
            began = time.perf_counter()
            metas = [export(col.events, q, k) for q in queries]
            export_times.append(time.perf_counter() - began)
            rows = sum(len(result.rows) for _, result in metas)
            assert rows > len(queries), f"the exports returned only {rows} rows"
            assert any(meta["daily_days"] for meta, _ in metas), "no daily totals were read"
        began = time.perf_counter()
        exact = sum(len(export(col.events, replace(q, daily=False), k)[1].rows)
                    for q in queries)
        exact_seconds = time.perf_counter() - began
        assert exact > len(queries), f"the exact exports returned only {exact} rows"
        print(f"{label:<10} {median_ms(page_times):<34} {median_ms(export_times):<34} "
              f"{exact_seconds * 1000:,.0f} ms", flush=True)
    col.close()


def main(argv: list[str] | None = None) -> None:
    """Command line: generate (or reuse) the data, then time the pages."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None,
                        help="the data folder (kept and reused)")
    parser.add_argument("--postgres", default=None, metavar="EVENTS_URL,IDENTITY_URL",
                        help="empty PostgreSQL stores to copy the data to and run on (else a "
                             "throwaway server, when PostgreSQL is installed)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)
    data = args.data or Path(tempfile.gettempdir()) / (
        f"cleargif-bench-dashboard-{args.events}-{args.days}-{args.seed}")
    info = build(data, args.events, args.days, args.seed)
    info.update(summarise(data))
    print(f"SQLite: {info['events']:,} events, {info['receipts']:,} receipts, "
          f"{info['dropped']:,} dropped hits over {info['days']} days up to {info['end']} "
          f"(generated in {info['seconds']} s; {info['summarised_days']} days summarised in "
          f"{info['summarise_seconds']} s)")
    if info["end"] != date.today().isoformat():
        print("Note: the data ends before today; the newest days of each view are empty.")
    run(data, args.rounds)
    if not args.no_postgres:
        on_postgres(data, args.rounds, args.postgres)


def on_postgres(data: Path, rounds: int, urls: str | None) -> None:
    """Copy the SQLite data to PostgreSQL (daily totals included) and time the same."""
    from collector.storage import open_events, open_identity
    from collector.storage.copy import copy_store

    server = None
    if urls is None:
        from tests.pgserver import TempPostgres, available

        if available() is not None:
            print(f"PostgreSQL: not measured ({available()})")
            return
        server = TempPostgres(durable=True).start()
        events_url, identity_url = server.cleargif_database("dashboard")
    else:
        events_url, identity_url = urls.split(",", 1)
    try:
        began = time.monotonic()
        for kind, url, opener in (("events", events_url, open_events),
                                  ("identity", identity_url, open_identity)):
            source, target = opener(f"sqlite:///{data / (kind + '.db')}"), opener(url)
            copy_store(source, target)
            source.close()
            target.close()
        import psycopg

        for url in (events_url, identity_url):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("ANALYZE")
        print(f"\nPostgreSQL: the same data, copied in {time.monotonic() - began:.0f} s")
        run(data, rounds, {"EVENTS_URL": events_url, "IDENTITY_URL": identity_url})
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
