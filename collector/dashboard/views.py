"""The dashboard's HTTP edge: ``/dashboard/`` (the page), ``/dashboard/csv`` (a table as
CSV), ``/dashboard/login`` and ``/dashboard/logout``, and the stylesheet and script under
``/dashboard/static/``.

Views read the request, hand plain values to :mod:`.choices`, :mod:`.panels` and the
aggregate export, and render. Every answer carries the dashboard's headers (a strict CSP
without ``unsafe-inline``, ``nosniff``, ``no-store``, no referrer); bad choices answer 400
with a sentence, a store failure 503 with ``Retry-After``.
"""

from __future__ import annotations

import functools
import io
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from sdk.flask_remember import Remember

from .. import clock
from ..analytics.export import export
from ..analytics.formats import meta_lines, write_csv
from ..analytics.query import METRICS, OTHER, Query, local_days
from ..errors import ConfigError, StorageError
from ..extension import Collector, ext
from ..mail import campaigns
from ..web.requests import read_form
from . import auth, charts, panels, texts
from .choices import (
    FILTER_DIMENSIONS,
    GROUPS,
    PERIODS,
    ChoiceError,
    Choices,
    Period,
    parse,
    query_string,
    recent_months,
    with_filter,
    without_filter,
)

#: The policy of every dashboard answer: nothing from elsewhere, no inline script or style,
#: forms only to the collector, framed only by itself (DESIGN 3).
CSP = ("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'; "
       "object-src 'none'")
#: Campaigns shown at most (the busiest of the period).
CAMPAIGNS = 5
RETRY_AFTER = "30"

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Language:
    """The page's language and the helpers its templates call."""

    code: str
    explicit: bool

    @property
    def dir(self) -> str:
        """``rtl`` for Arabic, else ``ltr``."""
        return "rtl" if self.code in texts.RTL else "ltr"

    def t(self, key: str, **values: object) -> str:
        """A text of this language."""
        return texts.text(self.code, key, **values)

    def html(self, key: str, **values: object) -> Markup:
        """A text as HTML, each value isolated in a ``<bdi>`` so that a path, a name or a
        date keeps its own direction inside a right-to-left sentence (a value that is
        ``Markup`` already, such as :func:`day`, goes in as it is)."""
        isolated = {name: value if isinstance(value, Markup) else
                    Markup('<bdi dir="auto">{}</bdi>').format(value)
                    for name, value in values.items()}
        return Markup(escape(texts.template(self.code, key))).format(**isolated)

    def n(self, value: int | float | None) -> str:
        """A number, or the held-back word."""
        return self.t("held_back") if value is None else texts.number(self.code, value)

    def pct(self, ratio: float | None, digits: int = 0) -> str:
        """A ratio as a percentage, or the held-back word."""
        return self.t("held_back") if ratio is None else texts.percent(self.code, ratio,
                                                                       digits)

    def months(self) -> list[str]:
        """Month names, January first."""
        return texts.month_names(self.code)


def day(value: object) -> Markup:
    """A date (``YYYY-MM-DD``) isolated left to right: in Arabic text the bidirectional
    algorithm would otherwise show 2026-11-07 as 07-11-2026."""
    shown = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return Markup('<bdi dir="ltr">{}</bdi>').format(shown)


def code(text: str) -> Markup:
    """A command or setting inside a sentence: code, left to right whatever the language."""
    return Markup('<code dir="ltr">{}</code>').format(text)


def language() -> Language:
    """The language of this request: ``?lang=``, else ``Accept-Language``, else
    ``DEFAULT_LANG``."""
    asked = request.args.get("lang")
    chosen = texts.pick(asked, request.headers.get("Accept-Language"),
                        current_app.config["DEFAULT_LANG"])
    return Language(chosen, asked in texts.LANGUAGES)


def _headers(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "dashboard.static":
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _language_links(lang: Language) -> list[tuple[str, str, str, bool]]:
    """``(code, name, link, current)`` of each language: this very page in it."""
    links = []
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    for other in texts.LANGUAGES:
        links.append((other, texts.NATIVE[other],
                      f"{request.path}?{urlencode([*params, ('lang', other)])}",
                      other == lang.code))
    return links


def _page(template: str, status: int = 200, **values: Any) -> Response:
    lang = values.pop("lang", None) or language()
    col = ext()
    return Response(render_template(f"dashboard/{template}", lang=lang, day=day, code=code,
                                    user=auth.current_user(col.identity),
                                    csrf_token=auth.csrf_token,
                                    languages=_language_links(lang), **values),
                    status=status, mimetype="text/html")


def message(key: str, status: int, **values: object) -> Response:
    """A short page with one sentence (a bad choice, a failing store)."""
    lang = language()
    return _page("message.html", status, lang=lang, text=lang.t(key, **values))


# --- signing in ----------------------------------------------------------------------------

def safe_next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path of this collector, never elsewhere
    (no scheme, no host, no ``//``, no backslash or control character)."""
    default = url_for(".index")
    if not target or any(ord(c) < 32 or c == "\x7f" for c in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/dashboard/") or \
            target.startswith("//") or "/../" in parts.path:
        return default
    return target


def signed_in(view: F) -> F:
    """Let the view run for a signed-in account (passed as ``user``); else send the browser
    to the sign-in form, or, when it came from another site (its ``SameSite=Strict``
    session cookie then stays home), to a page that reloads this one from here."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = auth.current_user(ext().identity)
        if user is None:
            if request.headers.get("Sec-Fetch-Site") == "cross-site" and \
                    request.method == "GET":
                return _page("continue.html", target=request.full_path)
            return redirect(url_for(".login", next=request.full_path))
        return view(user, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse:
    """The sign-in form: ``username``, ``password``, ``remember`` and ``csrf_token``."""
    col = ext()
    target = safe_next(request.args.get("next"))
    if request.method == "GET":
        if auth.current_user(col.identity) is not None:
            return redirect(target)
        notice = "signed_out" if request.args.get("out") else None
        return _login_form(200, notice=notice)
    wait = col.limits.hit("login", request.remote_addr, time.monotonic())
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        resp = _login_form(429, error="rate_limited", seconds=seconds)
        resp.headers["Retry-After"] = str(seconds)
        return resp
    try:
        form = read_form()
    except ValueError:
        return _login_form(400, error="form_expired")
    if not auth.csrf_ok(form.get("csrf_token")):
        return _login_form(400, error="form_expired")
    name = form.get("username", "")
    password = form.get("password", "")
    stored = col.identity.user_password_hash(name) if 0 < len(name) <= auth.MAX_NAME \
        else None
    if not auth.verify_password(stored, password) or stored is None:
        return _login_form(403, error="wrong_password", username=name[:auth.MAX_NAME])
    auth.start_session(name, stored)
    col.identity.record_login(name, int(clock.now()))
    remember = remember_of()
    if form.get("remember"):
        remember.remember(None, auth.remember_account(name))
    else:
        remember.forget()  # an older remembered login must not outlive this choice
    return redirect(target)


def _login_form(status: int, *, error: str | None = None, notice: str | None = None,
                username: str = "", seconds: int = 0) -> Response:
    lang = language()
    return _page("login.html", status, lang=lang, error=error and lang.t(error,
                                                                        seconds=seconds),
                 notice=notice and lang.t(notice), username=username,
                 remember_days=current_app.config["REMEMBER_DAYS"],
                 next=request.args.get("next", ""))


@bp.post("/logout")
def logout() -> BaseResponse:
    """Sign out: the session ends and the remembered login of this browser too."""
    try:
        form = read_form()
    except ValueError:
        form = {}
    if not auth.csrf_ok(form.get("csrf_token")):
        return message("form_expired", 400)
    remember_of().forget()
    auth.end_session()
    return redirect(url_for(".login", out=1))


def remember_of() -> Remember:
    """This app's remember-me glue."""
    remember: Remember = current_app.extensions["cg_remember"]
    return remember


# --- the page ------------------------------------------------------------------------------

def _sites(col: Collector) -> list[str]:
    # SITES as configured (serve --demo adds loopback names, possibly twice).
    return list(dict.fromkeys(col.config["SITES"]))


def _choices(col: Collector, lang: Language) -> Choices | BaseResponse:
    """The site, period and filters the request asks for, or the page that says why
    there are none (no sites configured, a choice that cannot be read)."""
    if not _sites(col):
        return message("no_sites", 200)
    today = clock.local_day(clock.now(), col.settings.tz)
    try:
        return parse(request.args, sites=_sites(col), today=today,
                     lang=lang.code if lang.explicit else None)
    except ChoiceError as exc:
        return message(exc.key, 400, **exc.values)


@bp.get("/")
@signed_in
def index(user: str) -> BaseResponse:
    """The dashboard for a site and period."""
    col = ext()
    lang = language()
    choices = _choices(col, lang)
    if not isinstance(choices, Choices):
        return choices
    try:
        view = gather(col, choices)
    except ConfigError as exc:  # roll-ups filed in another TIMEZONE
        return message("err_timezone", 409, detail=str(exc))
    return _page("page.html", lang=lang, c=choices, v=view, ui=Links(choices, lang),
                 sites=_sites(col), periods=PERIODS, groups=GROUPS, top=panels.TOP,
                 months=recent_months(clock.local_day(clock.now(), col.settings.tz)),
                 k=col.config["K_MIN"])


@dataclass(slots=True)
class View:
    """Everything a page draws."""

    series: panels.Series
    totals: panels.Totals
    before: panels.Totals | None
    before_period: Period | None
    tables: dict[str, panels.Table]
    dropped: panels.Dropped
    consent: panels.Consent
    campaigns: list[panels.CampaignRow]
    rolled_up: bool

    @property
    def empty(self) -> bool:
        """Whether nothing at all can be shown (every cell under k, or no hits)."""
        return self.totals.hits is None and not any(t.rows for t in self.tables.values())


def gather(col: Collector, choices: Choices) -> View:
    """Run the page's queries: one export per chart, key figure and table, the dropped
    counters, the consent counts and the campaign reports.

    :raises ConfigError: the period reaches roll-ups filed in another ``TIMEZONE``.
    :raises StorageError: a store cannot be read.
    """
    tz, k = col.settings.timezone, col.config["K_MIN"]
    events = col.events
    meta, result = export(events, panels.series_query(choices, tz), k)
    series = panels.shape_series(choices.period, meta, result)
    totals = panels.shape_totals(export(events, panels.totals_query(
        choices, choices.period, tz), k)[1])
    before_period = choices.period.previous()
    before = panels.shape_totals(export(events, panels.totals_query(
        choices, before_period, tz), k)[1]) if before_period else None
    tables = {}
    for group in GROUPS:
        dim = choices.tab(group)
        tmeta, tresult = export(events, panels.table_query(choices, dim, tz), k)
        tables[group] = panels.shape_table(dim, tmeta, tresult, choices.filter_of(dim))
    bots = export(events, panels.bots_query(choices, tz), k)[1]
    since, until = choices.period.since.isoformat(), choices.period.until.isoformat()
    dropped = panels.shape_dropped(events.dropped(since, until), bots)
    return View(series, totals, before, before_period, tables, dropped,
                consent_panel(col, choices), campaign_panel(col, choices),
                rolled_up=bool(meta.get("rolled_up_days") or meta.get("daily_days")))


def _days(col: Collector, choices: Choices) -> list[tuple[str, int, int]]:
    return local_days(choices.period.since, choices.period.until, col.settings.tz)


def consent_panel(col: Collector, choices: Choices) -> panels.Consent:
    """Decisions by day, with the browsers of the small days and of all days counted
    apart (a browser deciding on two days is one)."""
    k = col.config["K_MIN"]
    days = _days(col, choices)
    by_day = col.identity.consent_decisions(days, panels.PURPOSES)
    small = set(panels.small_days(by_day, k))
    other = col.identity.deciding_subjects([d for d in days if d[0] in small]) if small else 0
    total = col.identity.deciding_subjects(days) if by_day else 0
    return panels.shape_consent(choices.period, by_day, other, total, k)


def campaign_panel(col: Collector, choices: Choices) -> list[panels.CampaignRow]:
    """The reports of the busiest campaigns of the period, as ``cleargif campaign report``
    makes them."""
    start, end = Query(since=choices.period.since, until=choices.period.until,
                       timezone=col.settings.timezone).bounds()
    names = col.events.active_campaigns(start, end, CAMPAIGNS)
    return [panels.shape_campaign(col.campaign_reports.report(
                col.events, col.identity, name, col.config["K_MIN"],
                col.config["EMAIL_BURST_SECONDS"]))
            for name in names]


class Links:
    """Links and labels a page's templates build from its choices."""

    def __init__(self, choices: Choices, lang: Language) -> None:
        self.c = choices
        self.lang = lang

    def url(self, endpoint: str = ".index", fragment: str = "", **changes: Any) -> str:
        """A link to the view with ``changes`` (see :func:`.choices.query_string`)."""
        query = urlencode(query_string(self.c, **changes))
        return f"{url_for(endpoint)}?{query}" + (f"#{fragment}" if fragment else "")

    def filter_url(self, dim: str, value: str | None) -> str:
        """A row's link: filter by it, or drop that filter when it is the one in force."""
        if self.c.filter_of(dim) == (dim, value):
            return self.url(filters=without_filter(self.c, dim))
        return self.url(filters=with_filter(self.c, dim, value))

    def unfilter_url(self, dim: str) -> str:
        """The view without the filter on ``dim``."""
        return self.url(filters=without_filter(self.c, dim))

    def tab_url(self, group: str, dim: str) -> str:
        """The view with another table of a group, scrolled back to it."""
        return self.url(tabs={**self.c.tabs, group: dim}, expanded=None,
                        fragment=f"panel-{group}")

    def expand_url(self, dim: str | None, group: str) -> str:
        """The view with a table listed whole (or folded back to its top rows)."""
        return self.url(expanded=dim, fragment=f"panel-{group}")

    def csv_url(self, table: str) -> str:
        """The CSV download of a table."""
        return self.url(".csv_download") + "&" + urlencode({"table": table})

    def dim(self, name: str) -> str:
        """A dimension's name."""
        return self.lang.t(f"dim_{name}")

    def value(self, dim: str, value: str | None) -> str:
        """A dimension's value as shown: ``(direct)`` for no referrer, device names in the
        page's language, ``(other)`` for the fold."""
        if value == OTHER:
            return self.lang.t("other")
        if value is None or value == "":
            return self.lang.t("direct" if dim == "referrer_host" else "none_value")
        if dim == "device":
            key = f"device_{value}"
            if key in texts.TEXTS["en"]:
                return self.lang.t(key)
        return value

    def metric(self) -> str:
        """What the page counts: page views, or events once an event is filtered."""
        return self.lang.t("events_of" if panels.page_kind(self.c) == "event"
                           else "pageviews")

    def series_chart(self, series: panels.Series) -> charts.Chart:
        """The chart over time: page views as bars, visits and returning visitors as lines."""
        t, n = self.lang.t, self.lang.n
        tips = [f"{day}: {n(h) if h is not None else '–'} {self.metric()}, "
                f"{n(v) if v is not None else '–'} {t('visits')}"
                for day, h, v in zip(series.days, series.hits, series.visits, strict=True)]
        return charts.time_chart(series.days, [
            charts.Line("views", series.hits, "bar"),
            charts.Line("visits", series.visits, "line"),
            charts.Line("returning", series.returning, "dashed")], tips)

    def consent_chart(self, consent: panels.Consent) -> charts.Chart:
        """Shares of decisions granting each purpose, per day."""
        tips = []
        for i, day in enumerate(consent.days):
            parts = [f"{self.lang.t('purpose_' + p)} {self.lang.pct(consent.shares[p][i])}"
                     for p in panels.PURPOSES if consent.shares[p][i] is not None]
            tips.append(f"{day}: " + (", ".join(parts) if parts else "–"))
        return charts.time_chart(consent.days, [
            charts.Line(p, consent.shares[p], "line") for p in panels.PURPOSES], tips,
            top=1.0)

    def tick(self, value: float, share: bool = False) -> str:
        """An axis label."""
        if share:
            return self.lang.pct(value)
        return texts.number(self.lang.code, int(value) if float(value).is_integer()
                            else value)

    def change(self, current: int | None, before: int | None) -> tuple[str, str, str] | None:
        """``(direction, short, sentence)`` of a key figure's change: the short form is
        shown (``15%``, an arrow from the stylesheet), the sentence is read out."""
        found = panels.change(current, before)
        if found is None:
            return None
        direction, ratio = found
        short = self.lang.t("change_new_short") if direction == "new" else \
            self.lang.pct(ratio)
        return direction, short, self.lang.t(f"change_{direction}", pct=self.lang.pct(ratio))

    def filters(self) -> list[tuple[str, str, str, str]]:
        """Each filter in force: ``(dimension name, value shown, removal link, label)``."""
        out = []
        for dim, value in self.c.filters:
            shown = self.value(dim, value)
            out.append((self.dim(dim), shown, self.unfilter_url(dim),
                        self.lang.t("remove_filter", dimension=self.dim(dim), value=shown)))
        return out

    def bar(self, share: float) -> Markup:
        """A row's bar: an SVG rectangle as long as its share (no inline style)."""
        width = max(0.0, min(1.0, share)) * 100
        return Markup('<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" '
                      f'aria-hidden="true" focusable="false"><rect width="{width:.2f}" '
                      'height="10"/></svg>')

    def reason(self, reason: str) -> str:
        """Why hits were not counted, in words (a reason added later shows as its name)."""
        key = f"reason_{reason}"
        return self.lang.t(key) if key in texts.TEXTS["en"] else reason

    def group_title(self, group: str) -> str:
        """A panel's heading."""
        return self.lang.t(f"panel_{group}")

    def tab_title(self, dim: str) -> str:
        """A tab's label."""
        return self.lang.t(f"tab_{dim}") if f"tab_{dim}" in texts.TEXTS["en"] else \
            self.group_title({"path": "pages", "name": "events", "lang": "languages"}[dim])


# --- CSV -----------------------------------------------------------------------------------

@bp.get("/csv")
@signed_in
def csv_download(user: str) -> BaseResponse:
    """A table of the page as CSV: the metadata as ``#`` lines, then the rows. For the
    aggregate tables it is what ``cleargif export --daily --by <table> --filter …`` writes for the
    same period (metadata on stderr there)."""
    col = ext()
    lang = language()
    choices = _choices(col, lang)
    if not isinstance(choices, Choices):
        return choices
    table = request.args.get("table", "")
    tz, k = col.settings.timezone, col.config["K_MIN"]
    try:
        if table in FILTER_DIMENSIONS or table == "day":
            query = panels.series_query(choices, tz) if table == "day" else \
                panels.table_query(choices, table, tz)
            meta, result = export(col.events, query, k)
            lines, columns, rows = meta_lines(meta), [*query.by, *METRICS], result.rows
        elif table == "consent":
            lines, columns, rows = _consent_csv(col, choices)
        elif table == "campaigns":
            lines, columns, rows = _campaigns_csv(col, choices)
        elif table == "not_counted":
            lines, columns, rows = _dropped_csv(col, choices)
        else:
            return message("err_table", 400)
    except ConfigError as exc:
        return message("err_timezone", 409, detail=str(exc))
    out = io.StringIO()
    out.write("".join(line + "\n" for line in lines))
    write_csv(rows, columns, out)
    name = re.sub(r"[^a-z0-9.-]+", "-", f"cleargif-{choices.site}-{table}-"
                  f"{choices.period.since}-{choices.period.until}".lower())
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _common_meta(col: Collector, choices: Choices, what: str) -> list[str]:
    return [f"# table: {what}", f"# since: {choices.period.since}",
            f"# until: {choices.period.until}", f"# timezone: {col.settings.timezone}",
            f"# k_min: {col.config['K_MIN']}"]


def _consent_csv(col: Collector, choices: Choices) -> tuple[list[str], list[str],
                                                             list[dict[str, Any]]]:
    consent = consent_panel(col, choices)
    columns = ["day", "decisions", *(f"granting_{p}" for p in panels.PURPOSES), "with_gpc",
               "with_dnt"]
    rows = []
    for row in consent.rows + ([consent.total] if consent.total else []):
        rows.append({"day": row.label or "all", "decisions": row.decisions,
                     **{f"granting_{p}": n for p, n in zip(panels.PURPOSES, row.granted,
                                                           strict=True)},
                     "with_gpc": row.gpc, "with_dnt": row.dnt})
    lines = _common_meta(col, choices, "consent decisions (every site of this collector)")
    lines.append(f"# suppressed_days: {consent.suppressed_days}")
    lines.append(f"# other_suppressed: {consent.other_suppressed}")
    lines.append("# note: Days on which fewer than k browsers decided are folded into "
                 "(other), which is left out when it is under k too.")
    return lines, columns, rows


def _campaigns_csv(col: Collector, choices: Choices) -> tuple[list[str], list[str],
                                                               list[dict[str, Any]]]:
    rows = []
    for row in campaign_panel(col, choices):
        rows += [{"campaign": row.name, **r} for r in campaigns.report_rows(row.report)]
    lines = _common_meta(col, choices, "campaign reports (campaigns active in the period)")
    lines += [f"# note: {note}" for note in campaigns.NOTES]
    return lines, ["campaign", "metric", "value"], rows


def _dropped_csv(col: Collector, choices: Choices) -> tuple[list[str], list[str],
                                                             list[dict[str, Any]]]:
    tz, k = col.settings.timezone, col.config["K_MIN"]
    bots = export(col.events, panels.bots_query(choices, tz), k)[1]
    dropped = panels.shape_dropped(col.events.dropped(choices.period.since.isoformat(),
                                                      choices.period.until.isoformat()), bots)
    lines = _common_meta(col, choices, "hits not counted")
    lines.append("# note: bot is this site's bots (held back under k); the other reasons "
                 "count the hits of every site of this collector.")
    return lines, ["reason", "hits"], [{"reason": r, "hits": n} for r, n in dropped.reasons]


# --- errors and headers --------------------------------------------------------------------

@bp.errorhandler(StorageError)
def store_failed(exc: StorageError) -> Response:
    """A store that cannot be read or written: 503 and ``Retry-After``, naming no path."""
    current_app.logger.error("store failure: %s", exc)
    resp = message("store_down", 503)
    resp.headers["Retry-After"] = RETRY_AFTER
    return resp


bp.after_request(_headers)


def recall(account: str) -> bool:
    """Remember-me's login loader: sign in the dashboard account of a remembered login."""
    name = auth.account_of(account)
    if name is None:
        return False
    stored = ext().identity.user_password_hash(name)
    if stored is None:
        return False  # removed since: its token ends
    auth.start_session(name, stored)
    return True


def logged_in() -> bool:
    """Remember-me's question: is this request signed in already?"""
    return auth.current_user(ext().identity) is not None
