"""Sender side: tracking URLs, HTML instrumentation and one-click unsubscribe (sdk.mail)."""

from __future__ import annotations

import base64
import email
import html
import random
import re
import zlib
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from sdk.errors import CleargifError, ConfigError, InvalidRecipient
from sdk.mail import ONE_CLICK, PIXEL_STYLE, Mailer
from sdk.pseudonym import pseudonym
from sdk.tokens import TokenCodec

KEY = "mail-token-key-0123456789abcdef"
SENDER_KEY = "sender-pseudonym-key-0123456789"
BASE = "https://t.example.com"
SENT = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
NOW = SENT.timestamp() + 60
PIXEL = re.compile(r'<img src="https://t\.example\.com/o/([A-Za-z0-9_.\-]+)\.gif"[^>]*>')
CLICK = re.compile(r"https://t\.example\.com/c/([A-Za-z0-9_.\-]+)")

NEWSLETTER = """\
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<HTML xmlns="http://www.w3.org/1999/xhtml" xmlns:v="urn:schemas-microsoft-com:vml" lang=fr>
<HEAD>
<META http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>Spring news &mdash; Caf&eacute; Lumi&egrave;re</title>
<!--[if mso]><xml><o:OfficeDocumentSettings><o:PixelsPerInch>96</o:PixelsPerInch>
</o:OfficeDocumentSettings></xml><![endif]-->
<style type="text/css">
  a[x-apple-data-detectors] { color: inherit !important; }
  /* <a href="https://example.com/in-a-style-comment">not a link</a> */
</style>
<script type="application/ld+json">{"@context": "http://schema.org", "url": "https://shop.example/in-json-ld"}</script>
</HEAD>
<BODY bgcolor='#ffffff' style="margin:0;padding:0" class=body>
<!-- preheader: shown in the inbox list -->
<div style="display:none">Fresh beans &amp; new hours&nbsp;&#8203;</div>
<TABLE role=presentation width="100%"><TR><TD align=center>
  <A HREF="https://cafe.example/?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=spring"
     target=_blank><IMG SRC="https://cafe.example/logo.png" ALT="Café Lumière" width=120></A>
  <h1 style='font-family:Georgia,serif'>Bonjour &amp; welcome!</h1>
  <p>Our <a href='https://cafe.example/menu#spring' data-link-id="menu">spring menu</a> is here.
     Call <a href="tel:+33123456789">+33 1 23 45 67 89</a> or
     <a href="mailto:hello@cafe.example?subject=Hi%20there">write to us</a>.</p>
  <!--[if mso]>
  <v:roundrect href="https://cafe.example/order" style="height:40px;width:200px" arcsize="10%">
    <center>Order now</center>
  </v:roundrect>
  <![endif]-->
  <!--[if !mso]><!-->
  <a href=https://cafe.example/order class=button style="background:#c60">Order now</a>
  <!--<![endif]-->
  <map name="m"><AREA shape=rect coords="0,0,10,10"
    href="https://cafe.example/map?x=1&amp;y=2" alt=""></map>
  <p><a href="#top">Back to top</a> &middot; <a href="/relative/path">relative</a>
     &middot; <a href="sms:+33123456789">SMS</a> &middot; <a href="javascript:alert(1)">js</a>
     &middot; <a href="//evil.example/">scheme-relative</a>
     &middot; <a href="{{ view_in_browser }}">view in browser</a>
     &middot; <a href="https://user:secret@cafe.example/">userinfo</a></p>
  <p style="font-size:11px">
    <a href="https://cafe.example/preferences" data-cleargif="unsubscribe">Manage preferences</a> |
    <a href="{unsubscribe}">Unsubscribe</a> |
    <a href="https://t.example.com/u/an-older-token">Old unsubscribe</a>
  </p>
  <p>&copy; 2024 Café Lumière — 12 rue des Fleurs, Paris</p>
</TD></TR></TABLE>
</BODY>
</HTML>
"""
# (target, link id) of the links instrument must track, in document order. Outlook's
# VML button and its <a> fallback are one link.
TRACKED = [
    ("https://cafe.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring", "link-1"),
    ("https://cafe.example/menu#spring", "menu"),
    ("https://cafe.example/order", "link-3"),
    ("https://cafe.example/order", "link-3"),
    ("https://cafe.example/map?x=1&y=2", "link-4"),
]


@pytest.fixture
def mailer() -> Mailer:
    return Mailer(BASE, [KEY])


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec([KEY])


def newsletter(mailer: Mailer, newline: str = "\n", recipient: str = "u_42") -> str:
    unsubscribe = mailer.unsubscribe_url("spring", "news", recipient=recipient, sent_at=SENT)
    return NEWSLETTER.replace("{unsubscribe}", unsubscribe).replace("\n", newline)


def undo(instrumented: str, codec: TokenCodec) -> str:
    """Remove the pixel and map every click URL back to its (escaped) target."""
    without_pixel, count = PIXEL.subn("", instrumented)
    assert count <= 1

    def original(match: re.Match[str]) -> str:
        target = codec.load_click(match.group(1), now=NOW).target
        return html.escape(target, quote=False)

    return CLICK.sub(original, without_pixel)


def clicks(instrumented: str, codec: TokenCodec, now: float | None = NOW) -> list[Any]:
    return [codec.load_click(token, now=now) for token in CLICK.findall(instrumented)]


# -- single URLs ------------------------------------------------------------------------


def test_open_url_modes(mailer: Mailer, codec: TokenCodec) -> None:
    url = mailer.open_url("spring", "news", recipient="u_42", sent_at=SENT)
    assert url is not None
    match = re.fullmatch(r"https://t\.example\.com/o/(.+)\.gif", url)
    assert match
    opened = codec.load_open(match.group(1), now=NOW)
    assert (opened.campaign, opened.list, opened.recipient, opened.sent_at) == (
        "spring",
        "news",
        None,  # aggregate drops the recipient even when given
        SENT,
    )
    url = mailer.open_url("spring", "news", mode="individual", recipient="u_42", sent_at=SENT)
    assert url is not None
    assert codec.load_open(url[len(BASE) + 3 : -4], now=NOW).recipient == "u_42"
    assert mailer.open_url("spring", "news", mode="none", recipient="u_42") is None


def test_individual_mode_needs_an_acceptable_recipient(mailer: Mailer) -> None:
    with pytest.raises(InvalidRecipient) as info:
        mailer.open_url("spring", "news", mode="individual")
    assert info.value.reason == "missing"
    with pytest.raises(InvalidRecipient) as info:
        mailer.open_url("spring", "news", mode="individual", recipient="ann@example.com")
    assert info.value.reason == "email"
    with pytest.raises(ValueError, match="tracking mode"):
        mailer.open_url("spring", "news", mode="everything")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recipient", "reason"),
    [
        ("jane\ufe6bexample.com", "email"),
        ("jane\u034f@example.com", "email"),
        ("4111+1111+1111+1111", "digits"),
        ("4111_1111_1111_1111", "digits"),
        ("\u2463\u2460\u2464\u2464\u2464\u2464\u24ea\u2460\u2463\u2461", "digits"),
    ],
)
def test_every_url_refuses_recipients_the_scrubber_would_catch(
    mailer: Mailer, recipient: str, reason: str
) -> None:
    for make in (
        lambda: mailer.open_url("spring", "news", mode="individual", recipient=recipient),
        lambda: mailer.click_url("spring", "news", "cta", "https://cafe.example/",
                                 recipient=recipient),
        lambda: mailer.unsubscribe_url("spring", "news", recipient=recipient),
    ):
        with pytest.raises(InvalidRecipient) as info:
            make()
        assert info.value.reason == reason


def test_pseudonym_key_hashes_recipients(codec: TokenCodec) -> None:
    mailer = Mailer(BASE, [KEY], pseudonym_key=SENDER_KEY)
    url = mailer.click_url(
        "spring", "news", "cta", "https://cafe.example/", recipient="ann@example.com"
    )
    expected = pseudonym("ann@example.com", SENDER_KEY)
    assert codec.load_click(url.rsplit("/", 1)[1], now=None).recipient == expected
    # Not a substring test on the URL (base64 may spell "ann" by chance): on the payload.
    token = url.rsplit("/", 1)[1]
    part = token.lstrip(".").split(".")[0]
    payload = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    if token.startswith("."):  # itsdangerous compressed it
        payload = zlib.decompress(payload)
    assert expected.encode() in payload and b"ann" not in payload


@pytest.mark.parametrize("pseudonym_key", [KEY, "too-short"])
def test_bad_pseudonym_keys_are_refused(pseudonym_key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Mailer(BASE, [KEY], pseudonym_key=pseudonym_key)
    assert info.value.key == "pseudonym_key"


def test_click_url(mailer: Mailer, codec: TokenCodec) -> None:
    url = mailer.click_url("spring", "news", "cta", "https://cafe.example/x", sent_at=SENT)
    assert url.startswith(f"{BASE}/c/")
    click = codec.load_click(url[len(BASE) + 3 :], now=NOW)
    assert (click.link, click.target, click.recipient) == ("cta", "https://cafe.example/x", None)


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "//evil.com",
        "http:/\\evil.com",
        "https://user:pw@x.example",
        "data:text/html,<script>alert(1)</script>",
        "https://evil.com\\@good.com",
    ],
)
def test_click_url_refuses_open_redirects(mailer: Mailer, target: str) -> None:
    with pytest.raises(ValueError, match="link target"):
        mailer.click_url("spring", "news", "cta", target)


def test_unsubscribe_url_and_headers(mailer: Mailer, codec: TokenCodec) -> None:
    url = mailer.unsubscribe_url("spring", "news", recipient="u_42", sent_at=SENT)
    assert url.startswith(f"{BASE}/u/")
    token = codec.load_unsubscribe(url[len(BASE) + 3 :])
    assert (token.campaign, token.list, token.recipient) == ("spring", "news", "u_42")

    headers = mailer.unsubscribe_headers("spring", "news", recipient="u_42", sent_at=SENT)
    assert headers == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert ONE_CLICK == "List-Unsubscribe=One-Click"
    with_mail = mailer.unsubscribe_headers(
        "spring", "news", recipient="u_42", mailto="leave@cafe.example", sent_at=SENT
    )
    assert with_mail["List-Unsubscribe"] == f"<{url}>, <mailto:leave@cafe.example>"
    uri = "mailto:leave@cafe.example?subject=unsubscribe%20u_42"
    with_uri = mailer.unsubscribe_headers(
        "spring", "news", recipient="u_42", mailto=uri, sent_at=SENT
    )
    assert with_uri["List-Unsubscribe"].endswith(f", <{uri}>")


@pytest.mark.parametrize("mailto", ["", "leave", "a b@example.com", "x@example.com>, <https://e"])
def test_bad_mailto_is_refused(mailer: Mailer, mailto: str) -> None:
    with pytest.raises(ValueError, match="mailto"):
        mailer.unsubscribe_headers("spring", "news", recipient="u_42", mailto=mailto)


def test_unsubscribe_needs_an_https_base() -> None:
    plain = Mailer("http://localhost:5000", [KEY])
    assert plain.open_url("spring", "news") is not None  # opens and clicks work over http
    plain.click_url("spring", "news", "cta", "https://cafe.example/")
    for call in (
        lambda: plain.unsubscribe_url("spring", "news", recipient="u_42"),
        lambda: plain.unsubscribe_headers("spring", "news", recipient="u_42"),
        lambda: plain.prepare(_message("<p>x</p>"), "spring", "news", recipient="u_42"),
    ):
        with pytest.raises(ConfigError, match="https") as info:
            call()
        assert isinstance(info.value, CleargifError)
        assert info.value.key == "base_url"


@pytest.mark.parametrize(
    "base_url",
    [
        "",
        "t.example.com",
        "ftp://t.example.com",
        "https://t.example.com/?x=1",
        "https://t.example.com/#x",
        "https://user:pw@t.example.com",
        "//t.example.com",
    ],
)
def test_bad_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Mailer(base_url, [KEY])
    assert info.value.key == "base_url"


def test_base_url_may_have_a_path_and_a_trailing_slash() -> None:
    mailer = Mailer("HTTPS://www.cafe.example/cleargif/", [KEY])
    assert mailer.base_url == "https://www.cafe.example/cleargif"
    assert mailer.click_url("c", "l", "x", "https://a.example/").startswith(
        "https://www.cafe.example/cleargif/c/"
    )


def test_bad_token_keys_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        Mailer(BASE, [])
    assert info.value.key == "TOKEN_KEYS"


def test_repr_shows_no_keys(mailer: Mailer) -> None:
    assert KEY not in repr(mailer)


# -- instrument -------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_instrument_changes_nothing_but_pixel_and_hrefs(
    mailer: Mailer, codec: TokenCodec, newline: str
) -> None:
    source = newsletter(mailer, newline)
    out = mailer.instrument(source, "spring", "news", sent_at=SENT)
    assert out != source
    assert undo(out, codec) == source
    assert [(c.target, c.link) for c in clicks(out, codec)] == TRACKED
    assert all(c.recipient is None and c.sent_at == SENT for c in clicks(out, codec))


def test_instrument_puts_the_pixel_right_after_body(mailer: Mailer, codec: TokenCodec) -> None:
    source = newsletter(mailer)
    out = mailer.instrument(source, "spring", "news", sent_at=SENT)
    body = """<BODY bgcolor='#ffffff' style="margin:0;padding:0" class=body>"""
    pixel = PIXEL.search(out)
    assert pixel is not None
    assert pixel.start() == out.index(body) + len(body)
    assert pixel.group(0) == (
        f'<img src="{BASE}/o/{pixel.group(1)}.gif" width="1" height="1" alt=""'
        f' style="{PIXEL_STYLE}">'
    )
    assert "width:1px" in PIXEL_STYLE and "height:1px" in PIXEL_STYLE
    opened = codec.load_open(pixel.group(1), now=NOW)
    assert (opened.campaign, opened.list, opened.recipient) == ("spring", "news", None)


def test_instrument_leaves_excluded_links_alone(mailer: Mailer) -> None:
    source = newsletter(mailer)
    out = mailer.instrument(source, "spring", "news", sent_at=SENT)
    unsubscribe = mailer.unsubscribe_url("spring", "news", recipient="u_42", sent_at=SENT)
    for kept in [
        'href="tel:+33123456789"',
        'href="mailto:hello@cafe.example?subject=Hi%20there"',
        'href="#top"',
        'href="/relative/path"',
        'href="sms:+33123456789"',
        'href="javascript:alert(1)"',
        'href="//evil.example/"',
        'href="{{ view_in_browser }}"',
        'href="https://user:secret@cafe.example/"',
        'href="https://cafe.example/preferences" data-cleargif="unsubscribe"',
        f'href="{unsubscribe}"',
        'href="https://t.example.com/u/an-older-token"',
        '/* <a href="https://example.com/in-a-style-comment">not a link</a> */',
        '"url": "https://shop.example/in-json-ld"',
        '<IMG SRC="https://cafe.example/logo.png"',
    ]:
        assert kept in out, kept


@pytest.mark.parametrize(
    "href",
    [
        "mailto:a@example.com",
        "MAILTO:a@example.com",
        "tel:+1555",
        "sms:+1555",
        "#",
        "#section",
        "",
        "page.html",
        "javascript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,x",
        "ftp://example.com/",
        "//evil.com",
        "http:/\\evil.com",
        "https://user:pw@x.example",
        "https://t.example.com/o/x.gif",
        "https://t.example.com/c/x",
        # Scheme and host have no case, and 443 is https's own port: still the collector.
        "HTTPS://T.EXAMPLE.COM/u/abc",
        "Https://t.Example.com/c/x",
        "https://t.example.com:443/o/x.gif",
    ],
)
def test_instrument_exclusions(mailer: Mailer, href: str) -> None:
    source = f'<p><a href="{html.escape(href)}">x</a></p>'
    assert mailer.instrument(source, "spring", "news", mode="none") == source


@pytest.mark.parametrize(
    "href",
    [
        "https://t.example.com/U/abc",  # the path keeps its case
        "https://t.example.com:8443/u/abc",
        "http://t.example.com/u/abc",
        "https://t.example.com.evil.example/u/abc",
        "https://t.example.com/u",
    ],
)
def test_lookalikes_of_collector_urls_are_tracked(
    mailer: Mailer, codec: TokenCodec, href: str
) -> None:
    out = mailer.instrument(f'<p><a href="{href}">x</a></p>', "spring", "news", mode="none")
    assert [c.target for c in clicks(out, codec, now=None)] == [href]


def test_collector_urls_under_a_base_path_compare_host_without_case(codec: TokenCodec) -> None:
    mailer = Mailer("https://Www.Cafe.example/cleargif/", [KEY])
    kept = '<a href="HTTPS://WWW.CAFE.EXAMPLE/cleargif/u/abc">x</a>'
    assert mailer.instrument(kept, "spring", "news", mode="none") == kept
    tracked = '<a href="https://www.cafe.example/CLEARGIF/u/abc">x</a>'
    assert "/cleargif/c/" in mailer.instrument(tracked, "spring", "news", mode="none")


def test_instrument_exclusions_by_marker(mailer: Mailer) -> None:
    source = (
        '<a href="https://cafe.example/leave" data-cleargif="unsubscribe">a</a>'
        '<a href="https://cafe.example/leave" DATA-CLEARGIF=" Unsubscribe ">b</a>'
    )
    assert mailer.instrument(source, "spring", "news", mode="none") == source


def test_instrument_fills_unsubscribe_placeholders(mailer: Mailer, codec: TokenCodec) -> None:
    source = (
        '<a data-cleargif="unsubscribe" href="#">a</a>'
        "<a data-cleargif=unsubscribe href=''>b</a>"
        "<a data-cleargif='unsubscribe'>c</a>"
    )
    out = mailer.instrument(source, "spring", "news", mode="none", recipient="u_42", sent_at=SENT)
    url = mailer.unsubscribe_url("spring", "news", recipient="u_42", sent_at=SENT)
    assert out == (
        f'<a data-cleargif="unsubscribe" href="{url}">a</a>'
        f"<a data-cleargif=unsubscribe href='{url}'>b</a>"
        f"<a href=\"{url}\" data-cleargif='unsubscribe'>c</a>"
    )
    assert mailer.instrument(source, "spring", "news", mode="none", unsubscribe=False) == source
    with pytest.raises(ConfigError):
        Mailer("http://localhost", [KEY]).instrument(source, "spring", "news")


@pytest.mark.parametrize(
    ("source", "before"),
    [
        ("<p>Hello</p>", ""),
        ("<html><head><title>x</title></head><p>Hello</p></html>", "</head>"),
        ("<!doctype html>\n<html lang=en>\n<p>Hello</p>", "<html lang=en>"),
        ("<!-- a comment --><p>Hello</p>", ""),
    ],
)
def test_pixel_without_body(mailer: Mailer, source: str, before: str) -> None:
    out = mailer.instrument(source, "spring", "news", sent_at=SENT)
    pixel = PIXEL.search(out)
    assert pixel is not None
    assert out[: pixel.start()] == source[: source.index(before) + len(before)]
    assert PIXEL.sub("", out) == source


def test_only_the_first_body_gets_the_pixel(mailer: Mailer) -> None:
    out = mailer.instrument("<body><p>a</p></body><body>", "spring", "news")
    assert out.index("<img") == len("<body>")
    assert len(PIXEL.findall(out)) == 1


def test_mode_none_adds_no_pixel_but_tracks_clicks(mailer: Mailer, codec: TokenCodec) -> None:
    source = newsletter(mailer)
    out = mailer.instrument(source, "spring", "news", mode="none", recipient="u_42", sent_at=SENT)
    assert not PIXEL.search(out)
    assert len(clicks(out, codec)) == len(TRACKED)
    assert all(c.recipient is None for c in clicks(out, codec))


def test_individual_mode_puts_the_recipient_everywhere(mailer: Mailer, codec: TokenCodec) -> None:
    source = newsletter(mailer)
    out = mailer.instrument(
        source, "spring", "news", mode="individual", recipient="u_42", sent_at=SENT
    )
    pixel = PIXEL.search(out)
    assert pixel is not None
    assert codec.load_open(pixel.group(1), now=NOW).recipient == "u_42"
    assert [c.recipient for c in clicks(out, codec)] == ["u_42"] * len(TRACKED)
    with pytest.raises(InvalidRecipient):
        mailer.instrument(source, "spring", "news", mode="individual", recipient="192.168.0.1")


def test_instrument_decodes_entities_and_escapes_new_values(codec: TokenCodec) -> None:
    mailer = Mailer("https://t.example.com/p=1&q", [KEY])
    source = (
        '<a href="https://e.example/?a=1&#38;b=2&amp;c=3&lt;">x</a>'
        "<a href=https://e.example/bare>y</a>"
        "<a href=' https://e.example/spaced\n'>z</a>"
    )
    out = mailer.instrument(source, "spring", "news", mode="none")
    tokens = re.findall(r"/c/([A-Za-z0-9_.\-]+)", out)
    targets = [codec.load_click(token, now=None).target for token in tokens]
    assert targets == ["https://e.example/?a=1&b=2&c=3<", "https://e.example/bare",
                       "https://e.example/spaced"]  # fmt: skip
    prefix = "https://t.example.com/p=1&amp;q/c/"
    assert out == (
        f'<a href="{prefix}{tokens[0]}">x</a>'
        f'<a href="{prefix}{tokens[1]}">y</a>'  # quoted now: "=" is not allowed bare
        f"<a href='{prefix}{tokens[2]}'>z</a>"
    )


def test_instrument_uses_the_first_href_and_tolerates_odd_markup(
    mailer: Mailer, codec: TokenCodec
) -> None:
    source = (
        '<a id=x href="https://e.example/1" href="https://e.example/2">one</a>'
        '<a href="https://e.example/3"/>'
        '<A\nHREF\n=\n"https://e.example/4"\n>four</A>'
        "<a href>empty</a><a>none</a>"
        '<a href="https://e.example/5" data-link-id="">five</a>'
        "<p>1 < 2 & 3 > 2</p>"
    )
    out = mailer.instrument(source, "spring", "news", mode="none", sent_at=SENT)
    found = [(c.target, c.link) for c in clicks(out, codec)]
    assert found == [
        ("https://e.example/1", "link-1"),
        ("https://e.example/3", "link-2"),
        ("https://e.example/4", "link-3"),
        ("https://e.example/5", "link-4"),
    ]
    assert undo(out, codec) == source


FRAGMENTS = [
    "<a href='https://a.example/x?y=1&amp;z=2'>",
    "<A HREF=https://b.example/>",
    '<a href="mailto:x@example.com">',
    "</a>",
    "<body>",
    "<BODY class=x>",
    "<!--",
    "-->",
    "<!--[if mso]>",
    "<![endif]-->",
    "<p>",
    "text &amp; more &eacute;",
    "\n",
    "\r\n",
    "<style>",
    "</style>",
    "<script>",
    "</script>",
    '<area href="https://c.example/">',
    "<",
    ">",
    "'",
    '"',
    "=",
    "<head>",
    "</head>",
    "<!DOCTYPE html>",
    "<html>",
    "&",
    "<a data-link-id=cta href='https://d.example/'>",
    "<img src=x>",
    "<br/>",
    "<![if !mso]>",
    "<![endif]>",
    '<v:roundrect href="https://a.example/x?y=1&amp;z=2" arcsize="10%">',
    "<v:oval href=https://e.example/>",
    "</v:roundrect>",
    "<!--[if gte mso 9]>",
]


# Campaign Monitor's bulletproof button (buttons.cm): a VML rounded rectangle for Outlook
# in a conditional comment, then the same link as a styled <a> that Outlook hides.
BULLETPROOF = (
    "<div><!--[if mso]>\n"
    '  <v:roundrect xmlns:v="urn:schemas-microsoft-com:vml"'
    ' xmlns:w="urn:schemas-microsoft-com:office:word"'
    ' href="https://cafe.example/order?size=large&amp;src=button"'
    ' style="height:40px;v-text-anchor:middle;width:200px;" arcsize="10%"'
    ' strokecolor="#1e3650" fill="t">\n'
    '    <v:fill type="tile" src="https://cafe.example/img/button-bg.gif" color="#556270" />\n'
    "    <w:anchorlock/>\n"
    '    <center style="color:#ffffff;font-family:sans-serif;font-size:13px;font-weight:bold;">'
    "Order now</center>\n"
    "  </v:roundrect>\n"
    '<![endif]--><a href="https://cafe.example/order?size=large&amp;src=button"\n'
    'style="background-color:#556270;background-image:url(https://cafe.example/img/button-bg.gif);'
    "border:1px solid #1e3650;border-radius:4px;color:#ffffff;display:inline-block;"
    "font-family:sans-serif;font-size:13px;font-weight:bold;line-height:40px;text-align:center;"
    "text-decoration:none;width:200px;-webkit-text-size-adjust:none;mso-hide:all;"
    '">Order now</a></div>\n'
)


def test_a_bulletproof_button_is_tracked_as_one_link(mailer: Mailer, codec: TokenCodec) -> None:
    source = f'<p><a href="https://cafe.example/">Home</a></p>{BULLETPROOF}'
    out = mailer.instrument(source, "spring", "news", mode="none", sent_at=SENT)
    assert undo(out, codec) == source
    target = "https://cafe.example/order?size=large&src=button"
    assert [(c.target, c.link) for c in clicks(out, codec)] == [
        ("https://cafe.example/", "link-1"), (target, "link-2"), (target, "link-2"),
    ]
    vml = re.search(r'<v:roundrect [^>]*href="([^"]+)"', out)
    assert vml is not None and vml.group(1).startswith(f"{BASE}/c/")
    # Everything else in the comment stays byte for byte, the VML fill image too.
    assert 'src="https://cafe.example/img/button-bg.gif"' in out
    assert out.startswith('<p><a href="https://t.example.com/c/')


@pytest.mark.parametrize(
    "condition", ["if mso", "if gte mso 9", "if (mso)|(IE)", "if mso | IE", "IF MSO", "if !mso"]
)
@pytest.mark.parametrize("shape", ["v:roundrect", "v:rect", "v:oval", "v:shape", "V:RoundRect"])
def test_vml_shapes_in_conditional_comments_are_tracked(
    mailer: Mailer, codec: TokenCodec, condition: str, shape: str
) -> None:
    source = (f'<!--[{condition}]><{shape} href="https://cafe.example/order" fill="t">'
              f"<center>Order</center></{shape}><![endif]-->")
    out = mailer.instrument(source, "spring", "news", mode="none", sent_at=SENT)
    assert [(c.target, c.link) for c in clicks(out, codec)] == [
        ("https://cafe.example/order", "link-1")
    ]
    assert undo(out, codec) == source


@pytest.mark.parametrize(
    ("vml_id", "a_id", "expected"),
    [
        ("", "", ["link-1", "link-1"]),
        (' data-link-id="cta"', ' data-link-id="cta"', ["cta", "cta"]),
        ("", ' data-link-id="cta"', ["cta", "cta"]),
        (' data-link-id="cta"', "", ["cta", "cta"]),
        # Ids given on both elements are kept, even when they differ.
        (' data-link-id="cta-outlook"', ' data-link-id="cta"', ["cta-outlook", "cta"]),
    ],
)
def test_a_vml_button_and_its_fallback_share_a_link_id(
    mailer: Mailer, codec: TokenCodec, vml_id: str, a_id: str, expected: list[str]
) -> None:
    source = (
        f'<!--[if mso]><v:roundrect href="https://cafe.example/order"{vml_id}>'
        "<center>Order</center></v:roundrect><![endif]-->"
        f'<!--[if !mso]><!--><a href="https://cafe.example/order"{a_id}>Order</a>'
        '<!--<![endif]--><a href="https://cafe.example/menu">Menu</a>'
    )
    out = mailer.instrument(source, "spring", "news", mode="none", sent_at=SENT)
    assert [c.link for c in clicks(out, codec)] == [*expected, "link-2"]


def test_each_vml_button_pairs_with_its_own_fallback(mailer: Mailer, codec: TokenCodec) -> None:
    def button(target: str) -> str:
        return (f'<!--[if mso]><v:roundrect href="{target}"><center>Go</center>'
                f'</v:roundrect><![endif]--><a href="{target}" style="mso-hide:all">Go</a>')

    source = (
        '<a href="https://cafe.example/">Home</a>'
        + button("https://cafe.example/order")
        + button("https://cafe.example/menu")
        + button("https://cafe.example/order")  # the same target again: a second button
        # A fallback written before its shape, and a shape with no fallback at all.
        + '<a href="https://cafe.example/hours">Hours</a>'
        + '<!--[if mso]><v:rect href="https://cafe.example/hours"/><![endif]-->'
        + '<!--[if mso]><v:oval href="https://cafe.example/map"/><![endif]-->'
    )
    out = mailer.instrument(source, "spring", "news", mode="none", sent_at=SENT)
    assert [(c.target.rsplit("/", 1)[1], c.link) for c in clicks(out, codec)] == [
        ("", "link-1"),
        ("order", "link-2"), ("order", "link-2"),
        ("menu", "link-3"), ("menu", "link-3"),
        ("order", "link-4"), ("order", "link-4"),
        ("hours", "link-5"), ("hours", "link-5"),
        ("map", "link-6"),
    ]


def test_vml_shapes_keep_the_exclusions_of_links(mailer: Mailer, codec: TokenCodec) -> None:
    kept = (
        '<!--[if mso]><v:roundrect href="mailto:hello@cafe.example"/>'
        '<v:roundrect href="#top"/><v:roundrect href="https://t.example.com/u/an-old-token"/>'
        '<v:roundrect href="https://cafe.example/leave" data-cleargif="unsubscribe"/>'
        '<v:roundrect href="javascript:alert(1)"/><v:fill src="https://cafe.example/bg.gif"/>'
        "<![endif]-->"
    )
    assert mailer.instrument(kept, "spring", "news", mode="none") == kept
    placeholder = '<!--[if mso]><v:roundrect data-cleargif="unsubscribe" href="#"/><![endif]-->'
    out = mailer.instrument(placeholder, "spring", "news", mode="none", recipient="u_42",
                            sent_at=SENT)
    url = mailer.unsubscribe_url("spring", "news", recipient="u_42", sent_at=SENT)
    assert out == placeholder.replace('href="#"', f'href="{url}"')


@pytest.mark.parametrize(
    "source",
    [
        # Not a conditional comment: a commented-out button stays commented out as it was.
        '<!-- <v:roundrect href="https://cafe.example/order"></v:roundrect> -->',
        '<!--[if mso]><v:roundrect href="https://cafe.example/order"> no endif -->',
        # Only VML shapes are read inside the comment; VML outside comments is not Outlook's.
        '<!--[if mso]><a href="https://cafe.example/order">Order</a><![endif]-->',
        '<v:roundrect href="https://cafe.example/order"></v:roundrect>',
        # Markup html.parser cannot read inside the comment leaves the comment alone.
        '<!--[if mso]><![bogus x]><v:rect href="https://cafe.example/order"/><![endif]-->',
        "<style><!--[if mso]><v:rect href='https://cafe.example/order'/><![endif]--></style>",
    ],
)
def test_other_comments_and_shapes_are_left_alone(mailer: Mailer, source: str) -> None:
    assert mailer.instrument(source, "spring", "news", mode="none") == source


def test_instrument_round_trips_random_markup(mailer: Mailer, codec: TokenCodec) -> None:
    rng = random.Random(20240301)
    for _ in range(1500):
        source = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 30)))
        out = mailer.instrument(source, "spring", "news", sent_at=SENT)
        assert undo(out, codec) == source, source


def test_instrument_reports_unparseable_markup(mailer: Mailer) -> None:
    with pytest.raises(ValueError, match="line 2"):
        mailer.instrument("<p>\n<![bogus x]><a href='https://e.example/'>x</a>", "spring", "news")


def test_instrument_rejects_bad_link_ids(mailer: Mailer) -> None:
    with pytest.raises(ValueError, match="link id"):
        mailer.instrument(
            f'<a href="https://e.example/" data-link-id="{"x" * 200}">x</a>', "spring", "news"
        )


def test_instrument_shares_one_send_time(mailer: Mailer, codec: TokenCodec) -> None:
    out = mailer.instrument(newsletter(mailer), "spring", "news", recipient="u_42")
    pixel = PIXEL.search(out)
    assert pixel is not None
    times = {codec.load_open(pixel.group(1), now=None).sent_at}
    times |= {c.sent_at for c in clicks(out, codec, now=None)}
    assert len(times) == 1


# -- prepare ----------------------------------------------------------------------------

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4


def _message(html_body: str, charset: str = "utf-8") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Café Lumière <news@cafe.example>"
    message["To"] = "ann@example.com"
    message["Subject"] = "Spring news"
    message["Message-ID"] = "<spring-1@cafe.example>"
    message.set_content("Our spring menu is here: https://cafe.example/menu\n")
    message.add_alternative(html_body, subtype="html", charset=charset)
    return message


def _html_part(message: EmailMessage) -> EmailMessage:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return part


def test_prepare_multipart_with_attachments(mailer: Mailer, codec: TokenCodec) -> None:
    source = newsletter(mailer, recipient="u_42")
    message = _message(source)
    html_part = _html_part(message)
    html_part["Content-ID"] = "<body@cafe.example>"
    html_part["Content-Language"] = "fr"
    original_html = html_part.get_content()
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="menu.pdf")
    message.add_attachment(
        "<p><a href='https://cafe.example/att'>attached page</a></p>",
        subtype="html",
        filename="page.html",
    )
    message["List-Unsubscribe"] = "<https://old.example/unsub>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    result = mailer.prepare(
        message, "spring", "news", recipient="u_42", mailto="leave@cafe.example", sent_at=SENT
    )
    assert result is message
    raw = message.as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)

    # Exactly one of each header, the https URL first, then the mailto.
    unsubscribe = mailer.unsubscribe_url("spring", "news", recipient="u_42", sent_at=SENT)
    assert parsed.get_all("List-Unsubscribe") == [f"<{unsubscribe}>, <mailto:leave@cafe.example>"]
    assert parsed.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    header_lines = raw.split(b"\n\n", 1)[0]
    assert b"=?" not in header_lines.split(b"List-Unsubscribe:", 1)[1].split(b"\nList-")[0]
    assert parsed["Subject"] == "Spring news"
    assert parsed["From"] == "Café Lumière <news@cafe.example>"

    text = parsed.get_body(preferencelist=("plain",))
    assert text is not None
    assert text.get_content() == "Our spring menu is here: https://cafe.example/menu\n"

    body = _html_part(parsed)
    assert body.get_content_charset() == "utf-8"
    assert body["Content-ID"] == "<body@cafe.example>"
    assert body["Content-Language"] == "fr"
    instrumented = body.get_content()
    assert PIXEL.search(instrumented)
    assert undo(instrumented, codec) == original_html
    assert [(c.target, c.link) for c in clicks(instrumented, codec)] == TRACKED
    assert f'href="{unsubscribe}"' in instrumented  # untouched, same as the header

    attachments = list(parsed.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["menu.pdf", "page.html"]
    assert attachments[0].get_content() == PDF
    assert "t.example.com" not in attachments[1].get_content()


def test_prepare_fills_placeholders_with_the_header_url(mailer: Mailer) -> None:
    message = _message('<body><a data-cleargif="unsubscribe" href="#">Leave</a></body>')
    mailer.prepare(message, "spring", "news", mode="none", recipient="u_42")
    header = str(message["List-Unsubscribe"])
    assert f'href="{header[1:-1]}"' in _html_part(message).get_content()


def test_unsubscribe_links_and_headers_need_a_recipient(mailer: Mailer) -> None:
    """The collector answers a /u/ token without a recipient with 400: never make one."""
    for call in (
        lambda: mailer.unsubscribe_url("spring", "news"),
        lambda: mailer.unsubscribe_headers("spring", "news", mailto="leave@cafe.example"),
        lambda: mailer.instrument(
            '<a data-cleargif="unsubscribe" href="#">Leave</a>', "spring", "news"
        ),
    ):
        with pytest.raises(InvalidRecipient) as info:
            call()
        assert info.value.reason == "missing"
        assert "recipient=" in str(info.value) and "unsubscribe=False" in str(info.value)


@pytest.mark.parametrize("mode", ["aggregate", "individual", "none"])
def test_prepare_without_a_recipient_is_refused_and_changes_nothing(
    mailer: Mailer, mode: str
) -> None:
    message = _message('<body><a href="https://cafe.example/">go</a></body>')
    before = message.as_bytes()
    with pytest.raises(InvalidRecipient) as info:
        mailer.prepare(message, "spring", "news", mode=mode)  # type: ignore[arg-type]
    assert info.value.reason == "missing"
    assert message.as_bytes() == before
    assert "List-Unsubscribe" not in message


def test_prepare_in_aggregate_mode_puts_the_recipient_only_in_the_unsubscribe_header(
    mailer: Mailer, codec: TokenCodec
) -> None:
    message = _message('<body><a href="https://cafe.example/">go</a></body>')
    mailer.prepare(message, "spring", "news", recipient="u_42", sent_at=SENT)
    url = str(message["List-Unsubscribe"])[1:-1]
    assert codec.load_unsubscribe(url[len(BASE) + 3 :]).recipient == "u_42"
    body = _html_part(message).get_content()
    pixel = PIXEL.search(body)
    assert pixel is not None and codec.load_open(pixel.group(1), now=NOW).recipient is None
    assert [c.recipient for c in clicks(body, codec)] == [None]


def test_prepare_without_unsubscribe_adds_no_headers(codec: TokenCodec) -> None:
    # Even over http: a test mail with unsubscribe=False needs no https collector.
    for base in (BASE, "http://localhost:5000"):
        mailer = Mailer(base, [KEY])
        source = '<body><a data-cleargif="unsubscribe" href="#">Leave</a></body>'
        message = _message(source)
        message["List-Unsubscribe"] = "<mailto:leave@esp.example>"
        mailer.prepare(message, "spring", "news", unsubscribe=False)
        assert message.get_all("List-Unsubscribe") == ["<mailto:leave@esp.example>"]
        assert "List-Unsubscribe-Post" not in message
        body = _html_part(message).get_content()
        assert f"{base}/o/" in body  # still tracked in aggregate
        assert 'data-cleargif="unsubscribe" href="#"' in body  # the placeholder stays
    with pytest.raises(ValueError, match="mailto"):
        Mailer(BASE, [KEY]).prepare(
            _message("<body></body>"), "spring", "news", unsubscribe=False,
            mailto="leave@cafe.example",
        )


@pytest.mark.parametrize("charset", ["iso-8859-1", "us-ascii", "utf-8"])
def test_prepare_preserves_charset(mailer: Mailer, codec: TokenCodec, charset: str) -> None:
    text = "Caf\u00e9" if charset != "us-ascii" else "Cafe"
    source = f"<html><body><p>{text}</p><a href='https://cafe.example/'>go</a></body></html>\n"
    message = _message(source, charset=charset)
    mailer.prepare(message, "spring", "news", recipient="u_42", sent_at=SENT)
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    body = _html_part(parsed)
    assert body.get_content_charset() == charset
    assert undo(body.get_content(), codec) == source


def test_prepare_keeps_quoted_printable_and_base64(mailer: Mailer) -> None:
    for cte in ("quoted-printable", "base64"):
        message = EmailMessage()
        message.set_content("<body><p>Hi</p></body>\n", subtype="html", cte=cte)
        mailer.prepare(message, "spring", "news", recipient="u_42")
        assert message["Content-Transfer-Encoding"] == cte
        parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        assert "/o/" in parsed.get_content()


def test_prepare_long_lines_stay_within_smtp_limits(mailer: Mailer) -> None:
    links = "".join(f'<a href="https://cafe.example/{n}">{n}</a>' for n in range(40))
    message = _message(f"<body>{links}</body>\n")
    mailer.prepare(message, "spring", "news", recipient="u_42")
    assert max(len(line) for line in message.as_bytes().split(b"\n")) <= 998


def test_prepare_leaves_forwarded_messages_alone(mailer: Mailer) -> None:
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("<a href='https://inner.example/'>x</a>", subtype="html")
    message = _message("<body><p>outer</p></body>")
    message.add_attachment(inner)
    mailer.prepare(message, "spring", "news", recipient="u_42")
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    forwarded = next(parsed.iter_attachments()).get_content()
    assert "t.example.com" not in forwarded.as_string()


def test_prepare_single_part_html(mailer: Mailer) -> None:
    message = EmailMessage()
    message["Subject"] = "Hi"
    message.set_content("<body><a href='https://cafe.example/'>go</a></body>", subtype="html")
    mailer.prepare(message, "spring", "news", recipient="u_42")
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "text/html"
    assert "/c/" in parsed.get_content() and "/o/" in parsed.get_content()
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_prepared_message_survives_copy(mailer: Mailer) -> None:
    import copy
    import pickle

    message = mailer.prepare(
        _message("<body></body>"), "spring", "news", recipient="u_42", mailto="l@cafe.example"
    )
    header = re.compile(rb"List-Unsubscribe: .*?\nList-Unsubscribe-Post: .*?\n", re.S)
    expected = header.search(message.as_bytes())
    assert expected is not None and b"=?" not in expected.group(0)
    for clone in (copy.deepcopy(message), pickle.loads(pickle.dumps(message))):
        found = header.search(clone.as_bytes())
        assert found is not None and found.group(0) == expected.group(0)


def test_module_doc_lists_the_headers_dkim_must_sign() -> None:
    import sdk.mail

    doc = sdk.mail.__doc__ or ""
    for header in (
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "RFC 8058",
    ):
        assert header in doc


@pytest.mark.parametrize(("href", "target"), [
    ("https://x.example/?a=1&region=eu&copy=2&notify=1&param=3",
     "https://x.example/?a=1&region=eu&copy=2&notify=1&param=3"),
    ("https://x.example/?currency=eur&section=2&times=3&degree=4",
     "https://x.example/?currency=eur&section=2&times=3&degree=4"),
    ("https://x.example/?a=1&amp;b=2", "https://x.example/?a=1&b=2"),
    ("https://x.example/?q=&#x41;&#66;", "https://x.example/?q=AB"),
])
def test_query_parameters_are_not_read_as_entities(href: str, target: str) -> None:
    """Browsers leave `&copy=` in an attribute alone; so must the signed target."""
    from sdk import TokenCodec

    mailer = Mailer("https://stats.example.com", ["k" * 32])
    out = mailer.instrument(f'<html><body><a href="{href}">x</a></body></html>', "c", "l")
    token = out.split("/c/")[1].split('"')[0]
    assert TokenCodec(["k" * 32]).load_click(token).target == target


@pytest.mark.parametrize(("raw", "decoded"), [
    ("&notit;", "&notit;"),  # "&not" then "it;": kept, as browsers keep it in attributes
    ("?a=1&notit;=2", "?a=1&notit;=2"),
    ("&ampx;", "&ampx;"),
    ("&copy=2", "&copy=2"),
    ("&copyx", "&copyx"),
    ("&hellip", "&hellip"),  # no legacy form without ";"
    ("&not;", "\u00ac"),
    ("&not", "\u00ac"),
    ("&not/", "\u00ac/"),
    ("&notin;", "\u2209"),
    ("&amp;", "&"),
    ("&AMP;", "&"),
    ("&#x41;&#66", "AB"),
])
def test_unescape_attribute_follows_the_html5_attribute_rule(raw: str, decoded: str) -> None:
    from sdk.mail import unescape_attribute

    assert unescape_attribute(raw) == decoded


def test_a_semicolon_after_a_longer_name_does_not_decode_its_prefix(codec: TokenCodec) -> None:
    href = "https://x.example/?a=1&notit;=2"
    out = Mailer(BASE, [KEY]).instrument(f'<a href="{href}">x</a>', "c", "l")
    assert [c.target for c in clicks(out, codec, now=None)] == [href]


@pytest.mark.parametrize(("charset", "payload"), [("us-ascii", "caf\u00e9".encode("latin-1")),
                                                  ("unknown-8bit", b"caf\xe9")])
def test_prepare_refuses_a_mislabelled_charset(charset: str, payload: bytes) -> None:
    from email import message_from_bytes
    from email.policy import default

    raw = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/html; charset=" + charset.encode() +
           b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<html><body>" + payload +
           b" <a href=\"https://x.example/\">x</a></body></html>\r\n")
    msg = message_from_bytes(raw, policy=default)
    before = msg.as_bytes()
    mailer = Mailer("https://stats.example.com", ["k" * 32])
    with pytest.raises(ValueError, match="charset"):
        mailer.prepare(msg, "c", "l", recipient="r1")  # type: ignore[arg-type]
    assert msg.as_bytes() == before


def test_text_that_looks_like_a_link_is_left_alone() -> None:
    html = ('<html><head><title><a href="https://t.example/">t</a></title></head><body>'
            '<textarea><a href="https://x.example/">x</a></textarea>'
            '<a href="https://y.example/">y</a></body></html>')
    out = Mailer("https://stats.example.com", ["k" * 32]).instrument(html, "c", "l")
    assert out.count("/c/") == 1
    assert 'href="https://t.example/"' in out and 'href="https://x.example/"' in out


# -- bad arguments: a sentence, never a raw TypeError, AttributeError or codec error -----


def _is_sentence(error: BaseException) -> bool:
    text = str(error)
    return text[:1].isupper() and text.endswith(".") and not isinstance(error, UnicodeError)


@pytest.mark.parametrize(
    "pseudonym_key",
    [5, 1.5, True, [SENDER_KEY], bytearray(SENDER_KEY.encode()), "\ud800" * 20, b"short"],
    ids=["int", "float", "bool", "list", "bytearray", "surrogates", "short-bytes"],
)
def test_pseudonym_keys_that_are_not_str_or_bytes_are_refused(pseudonym_key: Any) -> None:
    with pytest.raises(ConfigError) as info:
        Mailer(BASE, [KEY], pseudonym_key=pseudonym_key)
    assert info.value.key == "pseudonym_key"
    assert _is_sentence(info.value) and SENDER_KEY not in str(info.value)


def test_a_bytes_pseudonym_key_works_like_its_str(codec: TokenCodec) -> None:
    as_bytes = Mailer(BASE, [KEY], pseudonym_key=SENDER_KEY.encode())
    url = as_bytes.unsubscribe_url("spring", "news", recipient="account-7")
    expected = pseudonym("account-7", SENDER_KEY)
    assert codec.load_unsubscribe(url.rsplit("/", 1)[1]).recipient == expected
    with pytest.raises(ConfigError, match="differ"):
        Mailer(BASE, [KEY], pseudonym_key=KEY.encode())


def test_a_pseudonym_key_equal_to_a_token_key_is_refused_with_any_key_iterable() -> None:
    # A generator is read once: the comparison used to see it empty and let this through.
    with pytest.raises(ConfigError) as info:
        Mailer(BASE, (key for key in [KEY]), pseudonym_key=KEY)
    assert info.value.key == "pseudonym_key"


@pytest.mark.parametrize("token_keys", [None, 5, [32], [None], [KEY, 64]])
def test_token_keys_that_are_not_str_or_bytes_are_refused(token_keys: Any) -> None:
    with pytest.raises(ConfigError) as info:
        Mailer(BASE, token_keys)
    assert info.value.key == "TOKEN_KEYS"


@pytest.mark.parametrize("source", [None, b"<a href='https://a.example/'>x</a>", 5, ["<p>"]])
def test_instrument_refuses_html_that_is_not_a_str(mailer: Mailer, source: Any) -> None:
    with pytest.raises(ValueError, match=r"^The HTML to instrument must be a str") as info:
        mailer.instrument(source, "spring", "news", recipient="u_42")
    assert _is_sentence(info.value)


@pytest.mark.parametrize("message", [None, "<p>hi</p>", b"Subject: x\n\nhi", {}])
def test_prepare_refuses_what_is_not_a_message(mailer: Mailer, message: Any) -> None:
    with pytest.raises(ValueError, match="EmailMessage") as info:
        mailer.prepare(message, "spring", "news", recipient="u_42")
    assert _is_sentence(info.value)


@pytest.mark.parametrize("payload", [None, 5])
def test_prepare_refuses_an_html_part_without_content_and_changes_nothing(
    mailer: Mailer, payload: Any
) -> None:
    message = EmailMessage()
    message["Content-Type"] = "text/html"
    message.set_payload(payload)
    with pytest.raises(ValueError, match="no readable content") as info:
        mailer.prepare(message, "spring", "news", recipient="u_42")
    assert _is_sentence(info.value)
    assert "List-Unsubscribe" not in message


@pytest.mark.parametrize(
    "mailto", [5, b"leave@cafe.example", ["leave@cafe.example"], "\udcff@x.example"]
)
def test_unsubscribe_headers_refuse_a_mailto_that_is_not_text(mailer: Mailer, mailto: Any) -> None:
    with pytest.raises(ValueError, match="mailto") as info:
        mailer.unsubscribe_headers("spring", "news", recipient="u_42", mailto=mailto)
    assert _is_sentence(info.value)


@pytest.mark.parametrize(
    "mode", [10**5000, "x" * 100_000, None, ["aggregate"]],
    ids=["huge-int", "long-str", "none", "list"],
)
def test_a_bad_mode_is_named_briefly(mailer: Mailer, mode: Any) -> None:
    with pytest.raises(ValueError, match="tracking mode") as info:
        mailer.open_url("spring", "news", mode=mode)
    assert _is_sentence(info.value) and len(str(info.value)) < 120


def test_mailto_without_unsubscribe_is_refused_with_a_sentence(mailer: Mailer) -> None:
    with pytest.raises(ValueError) as info:
        mailer.prepare(_message("<body></body>"), "spring", "news", unsubscribe=False,
                       mailto="leave@cafe.example")
    assert _is_sentence(info.value)


def test_account_ids_that_are_not_text_are_refused_with_a_sentence() -> None:
    mailer = Mailer(BASE, [KEY], pseudonym_key=SENDER_KEY)
    with pytest.raises(ValueError) as info:
        mailer.click_url("spring", "news", "cta", "https://cafe.example/", recipient="\ud800")
    assert _is_sentence(info.value)


def test_a_send_time_past_the_float_range_is_refused(mailer: Mailer) -> None:
    with pytest.raises(ValueError, match="between 1970 and 9999"):
        mailer.instrument("<a href='https://a.example/'>x</a>", "spring", "news",
                          sent_at=10**5000)
