"""Sender side of email tracking: pixel, tracked-link and unsubscribe URLs, HTML
instrumentation and RFC 2369 / RFC 8058 one-click unsubscribe headers.

A :class:`Mailer` is made from ``TOKEN_KEYS`` and the collector's public base URL::

    mailer = Mailer("https://stats.example.com", token_keys, pseudonym_key=sender_key)
    message = mailer.prepare(message, "2024-spring", "newsletter",
                             mode="individual", recipient=str(account.id))

Tracking modes: ``aggregate`` (default) counts opens and clicks per campaign and list,
with no recipient in the pixel or the links; ``individual`` puts the recipient
pseudonym in them (per-recipient tracking: say so in your privacy notice and only do it
with a legal basis); ``none`` adds no pixel. Unsubscribe links and headers always carry
the recipient, whatever the mode: the suppression must know who left, so they are refused
without one. A mail sent without a recipient says so with ``unsubscribe=False``::

    mailer.prepare(message, "2024-spring", "newsletter", unsubscribe=False)

Mail delivery: RFC 8058 section 4 makes one-click unsubscribe depend on a valid DKIM
signature whose ``h=`` tag covers ``List-Unsubscribe`` and ``List-Unsubscribe-Post``.
Configure the signer (OpenDKIM ``SignHeaders``, your ESP) to sign at least:

- ``List-Unsubscribe``
- ``List-Unsubscribe-Post``
- ``From``, ``To``, ``Subject``, ``Date``, ``Message-ID``

Many default configurations leave ``List-Unsubscribe-Post`` out; mailbox providers then
show no unsubscribe button.
"""

from __future__ import annotations

import html as html_lib
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.contentmanager import raw_data_manager
from email.message import EmailMessage, MIMEPart
from email.policy import Policy
from html.entities import html5 as html5_entities
from html.parser import HTMLParser
from typing import Final, Literal
from urllib.parse import SplitResult, urlsplit

from .errors import ConfigError, InvalidRecipient, check_utf8, describe, type_phrase
from .keys import key_bytes, key_list
from .pseudonym import MIN_KEY_LENGTH, check_recipient, pseudonym
from .tokens import TokenCodec, _target_problem, check_base_url

#: Tracking level of a mail: see the module documentation.
TrackingMode = Literal["aggregate", "individual", "none"]
_MODES: Final = ("aggregate", "individual", "none")

#: The value RFC 8058 section 3.1 requires in ``List-Unsubscribe-Post``.
ONE_CLICK: Final = "List-Unsubscribe=One-Click"

_NO_UNSUBSCRIBER: Final = (
    "An unsubscribe link or List-Unsubscribe header needs the recipient it unsubscribes:"
    " the collector answers one that names no one with an error, so one-click unsubscribe"
    " would silently fail. Pass recipient=… (the recipient's pseudonym, or the account id"
    " with pseudonym_key; in mode 'aggregate' only the unsubscribe link carries it), or"
    " leave the unsubscribe link and headers out of a mail sent without a recipient"
    " (unsubscribe=False in prepare() and instrument())."
)

#: Inline style of the open pixel: no box, no gap, whatever the client's defaults.
PIXEL_STYLE: Final = (
    "display:block;width:1px;height:1px;border:0;margin:0;padding:0;overflow:hidden"
)

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# What the HTML standard strips around a URL attribute value, and drops inside it.
_URL_TRIM: Final = "\t\n\f\r \x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f\x10\x11"
_URL_TAB_NEWLINE: Final = re.compile(r"[\t\n\r]")
# Characters that force an attribute value into quotes.
_NEEDS_QUOTES: Final = re.compile(r"[\s\"'=<>`]")
# The attribute grammar of html.parser (CPython 3.11), so spans found here are the
# attributes the parser reported; a tag where they disagree is left untouched.
_TAG_NAME: Final = re.compile(r"([a-zA-Z][^\t\n\r\f />\x00]*)(?:\s|/(?!>))*")
_ATTRIBUTE: Final = re.compile(
    r"((?<=['\"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*"
    r"('[^']*'|\"[^\"]*\"|(?!['\"])[^>\s]*))?(?:\s|/(?!>))*"
)
_MAILTO_FORBIDDEN: Final = re.compile(r"[\s<>,\"\x00-\x1f\x7f]")
# A downlevel-hidden conditional comment, "<!--[if mso]> … <![endif]-->", as the data
# html.parser reports for it; group 1 is the markup Outlook (or old IE) renders.
_CONDITIONAL_COMMENT: Final = re.compile(
    r"\[if\s[^\]]*\]>(.*)<!\[endif\]\s*", re.IGNORECASE | re.DOTALL
)

_Edits = list[tuple[int, int, str]]
# Links to track and their targets, in document order.
_Tracked = list[tuple["_Link", str]]


_REFERENCE = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;?)")


def unescape_attribute(value: str) -> str:
    """Decode character references in an attribute value as browsers do.

    Unlike :func:`html.unescape`, a named reference without ``;`` followed by ``=`` or a
    letter or digit stays as written: ``?a=1&copy=2&region=eu`` is a URL, not ``©=2``
    and ``®ion=eu``, and ``&notit;`` stays ``&notit;``, not ``¬it;`` (HTML's "character
    reference in attribute value" rule).
    """

    def decode(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("&#"):
            return html_lib.unescape(text)
        name = text[1:]
        if name.endswith(";"):
            # Only a whole name: "&notit;" is "&not" followed by "it;", which the
            # attribute rule leaves as written (html.unescape would give "¬it;").
            return html5_entities.get(name, text)
        # The run of letters and digits is whole, so what follows is neither; only "="
        # keeps a legacy name such as "&copy" from being decoded.
        following = value[match.end():match.end() + 1]
        if name in html5_entities and following != "=":
            return html5_entities[name]
        return text

    return _REFERENCE.sub(decode, value)


class Mailer:
    """Make tracking and unsubscribe URLs for the mails of one sender.

    :param base_url: the collector's public base URL, such as
        ``https://stats.example.com`` (a path is allowed, a query or fragment is not).
        ``http`` works for opens and clicks; unsubscribe links and headers need
        ``https`` (RFC 8058).
    :param token_keys: ``TOKEN_KEYS``, oldest first, the same list the collector has.
    :param pseudonym_key: if given (a ``str``, used as UTF-8, or ``bytes``; at least 16
        bytes), every ``recipient`` argument is an account id and is replaced by
        :func:`~sdk.pseudonym.pseudonym` under this key; if not, ``recipient`` must
        already be an opaque id and is checked by :func:`~sdk.pseudonym.check_recipient`.
        Keep this key to yourself: it must not be one of ``token_keys``, which the
        collector holds.
    :raises ConfigError: a bad base URL, key list or pseudonym key (keyed ``base_url``,
        ``TOKEN_KEYS`` or ``pseudonym_key``); a key that is not a ``str`` or ``bytes`` is
        refused, never converted.
    """

    def __init__(
        self,
        base_url: str,
        token_keys: Sequence[str | bytes],
        *,
        pseudonym_key: str | bytes | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        # Read once (an iterator would be empty the second time), compared below.
        token_bytes = key_list(token_keys, "TOKEN_KEYS")
        self._codec = TokenCodec(token_bytes)
        self._pseudonym_key: bytes | None = None
        if pseudonym_key is not None:
            key = key_bytes(pseudonym_key, "pseudonym_key", min_length=MIN_KEY_LENGTH,
                            label="The pseudonym key")
            if key in token_bytes:
                raise ConfigError(
                    "pseudonym_key",
                    "The pseudonym key must differ from every key in TOKEN_KEYS: the"
                    " collector holds those and could recompute pseudonyms from account ids.",
                )
            self._pseudonym_key = key

    def __repr__(self) -> str:
        return f"Mailer({self.base_url!r})"

    # -- single URLs ------------------------------------------------------------------

    def open_url(
        self,
        campaign: str,
        list: str,
        *,
        mode: TrackingMode = "aggregate",
        recipient: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> str | None:
        """Return the open pixel URL ``{base}/o/{token}.gif``, or ``None`` in mode ``none``.

        :param mode: ``aggregate`` leaves ``recipient`` out even when given;
            ``individual`` requires it.
        :raises InvalidRecipient: mode ``individual`` without a recipient, or a
            recipient id that could identify a person.
        :raises ValueError: an unknown mode, or a bad campaign or list.
        """
        _check_mode(mode)
        if mode == "none":
            return None
        token = self._codec.dump_open(
            campaign, list, recipient=self._tracked_recipient(mode, recipient), sent_at=sent_at
        )
        return f"{self.base_url}/o/{token}.gif"

    def click_url(
        self,
        campaign: str,
        list: str,
        link_id: str,
        target: str,
        *,
        recipient: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> str:
        """Return the tracked-link URL ``{base}/c/{token}`` that redirects to ``target``.

        :raises ValueError: ``target`` is not an absolute http(s) URL with a host (see
            :func:`~sdk.tokens.check_target`), or a bad campaign, list or link id.
        :raises InvalidRecipient: a recipient id that could identify a person.
        """
        token = self._codec.dump_click(
            campaign,
            list,
            link_id,
            target,
            recipient=self._recipient(recipient),
            sent_at=sent_at,
        )
        return f"{self.base_url}/c/{token}"

    def unsubscribe_url(
        self,
        campaign: str,
        list: str,
        *,
        recipient: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> str:
        """Return the unsubscribe URL ``{base}/u/{token}`` (it never expires).

        :param recipient: who the link unsubscribes; required, whatever the tracking
            mode of the mail (a link that names no one cannot unsubscribe anyone).
        :raises ConfigError: the base URL is not https.
        :raises InvalidRecipient: no recipient, or a recipient id that could identify a
            person.
        """
        self._require_https()
        if recipient is None:
            raise InvalidRecipient("missing", _NO_UNSUBSCRIBER)
        token = self._codec.dump_unsubscribe(
            campaign, list, recipient=self._recipient(recipient), sent_at=sent_at
        )
        return f"{self.base_url}/u/{token}"

    def unsubscribe_headers(
        self,
        campaign: str,
        list: str,
        *,
        recipient: str | None = None,
        mailto: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> dict[str, str]:
        """Return the RFC 2369 / RFC 8058 one-click unsubscribe headers.

        ``List-Unsubscribe`` holds the https unsubscribe URL and, if ``mailto`` is
        given, a ``mailto:`` URI after it; ``List-Unsubscribe-Post`` is
        ``List-Unsubscribe=One-Click``. The collector's ``POST /u/<token>`` answers the
        one-click request.

        :param recipient: who the headers unsubscribe; required, as for
            :meth:`unsubscribe_url`.
        :param mailto: an address (``leave@example.com``) or a ``mailto:`` URI, for
            clients that only unsubscribe by mail.
        :raises ConfigError: the base URL is not https.
        :raises InvalidRecipient: as for :meth:`unsubscribe_url`.
        :raises ValueError: ``mailto`` is not a usable address.
        """
        value = f"<{self.unsubscribe_url(campaign, list, recipient=recipient, sent_at=sent_at)}>"
        if mailto is not None:
            value += f", <{_mailto_uri(mailto)}>"
        return {"List-Unsubscribe": value, "List-Unsubscribe-Post": ONE_CLICK}

    # -- whole mails ------------------------------------------------------------------

    def instrument(
        self,
        html: str,
        campaign: str,
        list: str,
        *,
        mode: TrackingMode = "aggregate",
        recipient: str | None = None,
        unsubscribe: bool = True,
        sent_at: datetime | float | None = None,
    ) -> str:
        """Return ``html`` with an open pixel and tracked links; nothing else changes.

        - The pixel ``<img … width="1" height="1" alt="">`` goes right after the
          ``<body>`` start tag, so clients that clip long mails at the end (Gmail) still
          load it; without a body tag, after ``</head>``, else after a leading doctype
          and ``<html>`` tag, else at the very start. Mode ``none`` adds no pixel.
        - The ``href`` of every ``<a>`` and ``<area>`` pointing to an absolute http(s)
          URL becomes a click URL. The link id is the element's ``data-link-id``, else
          ``link-<n>`` with ``n`` counting tracked links in document order. Left as
          they are: ``mailto:``, ``tel:``, ``sms:``, ``#…`` and relative links, other
          schemes, URLs a click token cannot hold (see
          :func:`~sdk.tokens.check_target`), links into the collector (``{base}/u/…``
          and the like, so this mail's unsubscribe URL), and elements marked
          ``data-cleargif="unsubscribe"``.
        - With ``unsubscribe`` true, a marked element whose ``href`` is empty or ``#``
          (a template placeholder) receives this mail's unsubscribe URL, the same one
          :meth:`prepare` puts in the headers; a marked element with a real ``href``
          keeps it. Filling a placeholder needs ``recipient``, whatever the mode.

        - Outlook's bulletproof buttons are tracked too: the ``href`` of a VML shape
          (``<v:roundrect>``, ``<v:rect>``, ``<v:oval>``, any ``v:`` element) inside a
          conditional comment (``<!--[if mso]> … <![endif]-->``, ``[if gte mso 9]`` and
          the like) is rewritten as an ``<a>``'s is, with the same exclusions. A shape and
          its fallback link (the first tracked ``<a>`` or ``<area>`` after it with the
          same target, else the last one before it) are one link to reports: they share
          a ``data-link-id`` given on either, else one ``link-<n>``.

        Entities in ``href`` values are decoded before signing, and new values are
        attribute-escaped in the original quoting. Everything else inside comments, and
        markup inside ``<script>`` and ``<style>``, is not touched.

        :param mode: as for :meth:`open_url`; click URLs carry the recipient only in
            mode ``individual``.
        :param sent_at: the send time shared by every token of this mail: the time the
            mail is handed to the mail server for delivery; now if ``None`` (right only
            when it is sent at once). The collector counts a click or open within seconds
            of it as a scanner's (``EMAIL_CLICK_TOO_SOON_SECONDS``), so a mail prepared
            long before it goes out should say when it does.
        :raises ConfigError: an unsubscribe placeholder must be filled and the base URL
            is not https.
        :raises InvalidRecipient: mode ``individual`` without a recipient, an
            unsubscribe placeholder to fill without one, or a recipient id that could
            identify a person.
        :raises ValueError: ``html`` is not a ``str``, an unknown mode, a bad campaign or
            list, or a bad ``data-link-id``.
        """
        if not isinstance(html, str):
            raise ValueError(
                f"The HTML to instrument must be a str, not {type_phrase(html)}; decode"
                " bytes with the mail's charset first, or pass a whole message to prepare()."
            )
        _check_mode(mode)
        sent = self._send_time(sent_at)
        tracked = self._tracked_recipient(mode, recipient)
        scan = _scan(html)
        edits: _Edits = []  # (begin, end, replacement); `list` is a parameter here

        pixel = self.open_url(campaign, list, mode=mode, recipient=recipient, sent_at=sent)
        if pixel is not None:
            position = scan.pixel_position()
            tag = (
                f'<img src="{html_lib.escape(pixel)}" width="1" height="1" alt=""'
                f' style="{PIXEL_STYLE}">'
            )
            edits.append((position, position, tag))

        unsubscribe_url: str | None = None
        tracked_links: _Tracked = []  # `list` is a parameter here
        for link in scan.links:
            if link.marker == "unsubscribe":
                if unsubscribe and (link.href is None or link.href.strip(_URL_TRIM) in ("", "#")):
                    if unsubscribe_url is None:
                        unsubscribe_url = self.unsubscribe_url(
                            campaign, list, recipient=recipient, sent_at=sent
                        )
                    edits.append(link.set_href(unsubscribe_url))
                continue
            if link.href is None:
                continue
            target = _URL_TAB_NEWLINE.sub("", link.href.strip(_URL_TRIM))
            scheme = _SCHEME.match(target)
            if not scheme or scheme.group(1).lower() not in ("http", "https"):
                continue
            if _target_problem(target) or self._is_collector_url(target):
                continue
            tracked_links.append((link, target))
        for (link, target), link_id in zip(
            tracked_links, _link_ids(tracked_links), strict=True
        ):
            click = self._codec.dump_click(
                campaign, list, link_id, target, recipient=tracked, sent_at=sent
            )
            edits.append(link.set_href(f"{self.base_url}/c/{click}"))
        return _splice(html, edits)

    def prepare(
        self,
        message: EmailMessage,
        campaign: str,
        list: str,
        *,
        mode: TrackingMode = "aggregate",
        recipient: str | None = None,
        unsubscribe: bool = True,
        mailto: str | None = None,
        sent_at: datetime | float | None = None,
    ) -> EmailMessage:
        """Instrument a message for sending and return it (changed in place).

        Every ``text/html`` part that is not an attachment (nor inside an attached
        message) goes through :meth:`instrument`, keeping its charset, its other
        ``Content-*`` headers and a quoted-printable or base64 transfer encoding
        (otherwise the encoding is chosen afresh, since tracked URLs lengthen lines).
        Text parts and attachments are left as they are. ``List-Unsubscribe`` and
        ``List-Unsubscribe-Post`` replace any existing ones; every token of the
        message shares one send time, so the body's unsubscribe placeholders and the
        header hold the same URL.

        :param recipient: the recipient, as for :meth:`instrument`. The unsubscribe
            headers carry it in every mode (in mode ``aggregate`` only they do), so it
            is required unless ``unsubscribe`` is false.
        :param unsubscribe: false for a mail that gets no unsubscribe headers and no
            filled placeholders from cleargif (one sent without a recipient, or a test
            mail over http); headers already on the message are then left as they are.
        :param sent_at: when the mail is handed to the mail server for delivery, as for
            :meth:`instrument`; now if ``None``.
        :raises ConfigError: the base URL is not https (one-click unsubscribe needs it).
        :raises InvalidRecipient: no recipient while ``unsubscribe`` is true, or as for
            :meth:`instrument`.
        :raises ValueError: ``message`` is not an :class:`~email.message.EmailMessage`,
            an HTML part has no content, as for :meth:`instrument` and
            :meth:`unsubscribe_headers`, and ``mailto`` with ``unsubscribe`` false.
        """
        if not isinstance(message, MIMEPart):
            raise ValueError(
                f"The message must be an email.message.EmailMessage, not"
                f" {type_phrase(message)}; build it with EmailMessage(), or parse it with"
                " policy=email.policy.default."
            )
        sent = self._send_time(sent_at)
        headers: dict[str, str] = {}
        if unsubscribe:
            headers = self.unsubscribe_headers(
                campaign, list, recipient=recipient, mailto=mailto, sent_at=sent
            )
        elif mailto is not None:
            raise ValueError(
                "The mailto argument goes into the List-Unsubscribe header, which"
                " unsubscribe=False leaves out; drop mailto, or give a recipient and keep"
                " the header."
            )
        # Every part is worked out before any is changed: a bad one leaves the message as
        # it was.
        work = []
        for part in _html_parts(message):
            if not isinstance(part.get_payload(), str | bytes):
                raise ValueError(
                    "An HTML part of the message has no readable content (its payload is"
                    " not text); give it a body with set_content() before preparing, or"
                    " remove the part."
                )
            charset = part.get_content_charset() or "utf-8"
            try:
                "".encode(charset)
                source = part.get_content(content_manager=raw_data_manager)
                changed = self.instrument(
                    source,
                    campaign,
                    list,
                    mode=mode,
                    recipient=recipient,
                    unsubscribe=unsubscribe,
                    sent_at=sent,
                )
                changed.encode(charset)
            except (LookupError, UnicodeError):
                raise ValueError(
                    f"An HTML part declares the charset {charset!r}, which is unknown or "
                    "does not match its bytes; fix the part's Content-Type before preparing."
                ) from None
            work.append((part, changed, charset))
        for part, changed, charset in work:
            _replace_html(part, changed, charset)
        for name, value in headers.items():
            del message[name]
            message.set_raw(name, _UrlListHeader(name, value))
        return message

    # -- internals --------------------------------------------------------------------

    def _recipient(self, recipient: str | None) -> str | None:
        if recipient is None:
            return None
        if self._pseudonym_key is not None:
            if not isinstance(recipient, str) or not recipient:
                raise InvalidRecipient("empty", "The recipient account id is empty.")
            return pseudonym(recipient, self._pseudonym_key)
        return check_recipient(recipient)

    def _tracked_recipient(self, mode: str, recipient: str | None) -> str | None:
        if mode != "individual":
            return None
        if recipient is None:
            raise InvalidRecipient(
                "missing",
                "Mode 'individual' needs a recipient; pass recipient=… or use mode 'aggregate'.",
            )
        return self._recipient(recipient)

    def _is_collector_url(self, url: str) -> bool:
        """Tell whether ``url`` is a pixel, click or unsubscribe URL of this collector.

        Scheme and host compare without case, and a default port counts as absent, as
        browsers treat them; the path compares exactly.
        """
        base, target = urlsplit(self.base_url), urlsplit(url)
        if (base.scheme, base.hostname, _port(base)) != (
            target.scheme.lower(), target.hostname, _port(target)
        ):
            return False
        return target.path.startswith(tuple(f"{base.path}/{kind}/" for kind in "ocu"))

    def _require_https(self) -> None:
        if not self.base_url.startswith("https://"):
            raise ConfigError(
                "base_url",
                f"Unsubscribe links need an https base URL, not {self.base_url!r}: RFC 8058"
                " one-click unsubscribe only works over https. Serve the collector over"
                " https, or pass unsubscribe=False for a test mail.",
            )

    @staticmethod
    def _send_time(sent_at: datetime | float | None) -> datetime | float:
        # Fixed once per mail, so every token in it (and its headers) agrees.
        return time.time() if sent_at is None else sent_at


# -- HTML scanning -----------------------------------------------------------------------


@dataclass
class _Link:
    """An ``<a>`` or ``<area>`` start tag and where its ``href`` value sits."""

    start: int  # offset of "<" in the document
    raw: str  # the start tag's source text
    href: str | None  # decoded value of the first href, None if absent or valueless
    href_span: tuple[int, int] | None  # span of the raw value in ``raw``, quotes included
    link_id: str | None
    marker: str | None  # data-cleargif, lowercased
    vml: bool = False  # a VML shape inside a conditional comment

    def set_href(self, url: str) -> tuple[int, int, str]:
        """Return the edit that makes ``url`` this element's ``href``."""
        value = html_lib.escape(url, quote=True)
        if self.href_span is None:
            # No usable href attribute: add one right after the tag name.
            name = _TAG_NAME.match(self.raw, 1)
            at = self.start + 1 + len(name.group(1)) if name else self.start + 2
            return at, at, f' href="{value}"'
        begin, end = self.href_span
        quote = self.raw[begin : begin + 1]
        if quote in ("'", '"') and end - begin >= 2 and self.raw[end - 1] == quote:
            return self.start + begin + 1, self.start + end - 1, value
        if begin == end or _NEEDS_QUOTES.search(value):
            value = f'"{value}"'
        return self.start + begin, self.start + end, value


class _Scan(HTMLParser):
    """Find the insertion point of the pixel and the links of an HTML document.

    Offsets come from :meth:`getpos` and the raw start tag text, so edits touch exactly
    the characters they mean to and everything else stays byte for byte.
    """

    # What a <textarea> or <title> holds is text, not markup, even when it looks like a link.
    # (typeshed marks the attribute Final; the stdlib reads it per instance.)
    CDATA_CONTENT_ELEMENTS = (*HTMLParser.CDATA_CONTENT_ELEMENTS, "textarea", "title")  # type: ignore[misc]

    def __init__(self, source: str, *, vml: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        # A scan of a conditional comment's content collects VML shapes instead of links.
        self.vml = vml
        # html.parser counts lines at "\n" only and columns from the last "\n".
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", source)]
        self.links: list[_Link] = []
        self.body_end: int | None = None
        self.head_end: int | None = None
        self.preamble_end = 0
        self._in_preamble = True

    def pixel_position(self) -> int:
        """Where the open pixel goes."""
        if self.body_end is not None:
            return self.body_end
        if self.head_end is not None:
            return self.head_end
        return self.preamble_end

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_decl(self, decl: str) -> None:
        end = self._offset() + len(decl) + 3  # "<!" + decl + ">"
        if self._in_preamble and decl[:7].lower() == "doctype":
            self.preamble_end = end

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        raw = self.get_starttag_text() or ""
        if self.source[start : start + len(raw)] != raw:
            return  # positions out of step: change nothing rather than the wrong bytes
        end = start + len(raw)
        if tag == "html" and self._in_preamble:
            self.preamble_end = end
        else:
            self._in_preamble = False
        if tag == "body" and self.body_end is None:
            self.body_end = end
        if (tag.startswith("v:") and any(name in ("href", "data-cleargif") for name, _ in attrs)
                if self.vml else tag in ("a", "area")):
            link = _read_link(start, raw, attrs)
            if link is not None:
                self.links.append(link)

    def handle_comment(self, data: str) -> None:
        if self.vml:
            return
        start = self._offset() + 4  # after "<!--"
        if self.source[start : start + len(data)] != data:
            return  # positions out of step: change nothing rather than the wrong bytes
        conditional = _CONDITIONAL_COMMENT.fullmatch(data)
        if conditional is None:
            return
        inner = start + conditional.start(1)
        try:
            shapes = _scan(conditional.group(1), vml=True).links
        except ValueError:
            return  # markup Outlook alone reads; leave it as it is
        self.links.extend(replace(shape, start=inner + shape.start, vml=True) for shape in shapes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head" and self.head_end is None:
            start = self._offset()
            close = self.source.find(">", start + 1)
            if close != -1:
                self.head_end = close + 1


def _scan(source: str, *, vml: bool = False) -> _Scan:
    scan = _Scan(source, vml=vml)
    try:
        scan.feed(source)
        scan.close()
    except AssertionError as exc:
        # html.parser's only hard failure: a "<![name" section it does not know.
        line, _ = scan.getpos()
        raise ValueError(
            f"The HTML cannot be parsed near line {line} ({exc}); fix or remove the"
            " malformed <![…]> section."
        ) from None
    # Shapes found in comments were added when their comment ended: back in document order.
    scan.links.sort(key=lambda link: link.start)
    return scan


def _link_ids(links: _Tracked) -> list[str]:
    """The link id of each tracked ``(link, target)``, in document order.

    A link's own ``data-link-id`` wins; otherwise it is ``link-<n>``, ``n`` counting the
    tracked links in order. A VML shape and its fallback ``<a>`` (see
    :meth:`Mailer.instrument`) count as one link and share an id (a ``data-link-id``
    given on either, else one number), so reports count one button once.
    """
    partner: dict[int, int] = {}
    for i, (link, target) in enumerate(links):
        if not link.vml:
            continue
        fallbacks = [j for j, (other, other_target) in enumerate(links)
                     if not other.vml and other_target == target and j not in partner]
        after = [j for j in fallbacks if j > i]
        if after or fallbacks:
            j = after[0] if after else fallbacks[-1]
            partner[i], partner[j] = j, i
    ids: list[str] = []
    numbers: list[int] = []
    count = 0
    for i, (link, _) in enumerate(links):
        # Every link counts, with a data-link-id or not; a pair counts where it starts.
        if i in partner and partner[i] < i:
            numbers.append(numbers[partner[i]])
        else:
            count += 1
            numbers.append(count)
        other = links[partner[i]][0] if i in partner else None
        if link.link_id is not None:
            ids.append(link.link_id)
        elif other is not None and other.link_id is not None:
            ids.append(other.link_id)
        else:
            ids.append(f"link-{numbers[i]}")
    return ids


def _read_link(start: int, raw: str, attrs: list[tuple[str, str | None]]) -> _Link | None:
    """Locate the attributes of a link start tag in its source text.

    Returns ``None`` (leave the tag alone) when this reading disagrees with the parser's.
    """
    name = _TAG_NAME.match(raw, 1)
    if name is None:
        return None
    found: list[tuple[str, str | None, tuple[int, int] | None]] = []
    position = name.end()
    while position < len(raw):
        match = _ATTRIBUTE.match(raw, position)
        if not match:
            break
        attr_name, rest, raw_value = match.group(1, 2, 3)
        if rest:
            value = raw_value
            if value[:1] in ("'", '"') and value[:1] == value[-1:] and len(value) >= 2:
                value = value[1:-1]
            found.append((attr_name.lower(), value, match.span(3)))
        else:
            found.append((attr_name.lower(), None, None))
        position = match.end()
    # The parser decodes attributes like text; compare on that reading, but keep the raw
    # value so that it can be decoded by the attribute rule below.
    parsed = [(attr_name, value or None) for attr_name, value in attrs]
    if [(attr_name, html_lib.unescape(value) if value else None)
            for attr_name, value, _ in found] != parsed:
        return None
    found = [(n, unescape_attribute(v) if v is not None else None, sp) for n, v, sp in found]

    def first(wanted: str) -> tuple[str | None, tuple[int, int] | None, bool]:
        for attr_name, value, span in found:
            if attr_name == wanted:
                return value, span, True
        return None, None, False

    href, href_span, _ = first("href")
    link_id, _, _ = first("data-link-id")
    marker, _, _ = first("data-cleargif")
    return _Link(
        start=start,
        raw=raw,
        href=href,
        href_span=href_span,
        link_id=link_id if link_id else None,
        marker=marker.strip().lower() if marker else None,
    )


def _splice(source: str, edits: _Edits) -> str:
    pieces = []
    position = 0
    for begin, end, text in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        pieces.append(source[position:begin])
        pieces.append(text)
        position = end
    pieces.append(source[position:])
    return "".join(pieces)


# -- messages ----------------------------------------------------------------------------


class _UrlListHeader(str):
    """A ``List-Unsubscribe`` value that folds only between its ``<…>`` URLs.

    :mod:`email.policy.default` folds a long URL into RFC 2047 encoded words, which
    mail clients do not decode in this header, so one-click unsubscribe would break.
    """

    name: str
    defects: tuple[()] = ()

    def __new__(cls, name: str, value: str) -> _UrlListHeader:
        self = super().__new__(cls, value)
        self.name = name
        return self

    def __reduce__(self) -> tuple[type[_UrlListHeader], tuple[str, str]]:
        return type(self), (self.name, str(self))

    def fold(self, *, policy: Policy) -> str:
        """Render the header line, folded after each comma."""
        separator = "," + policy.linesep + " "
        return f"{self.name}: {separator.join(self.split(', '))}{policy.linesep}"


def _html_parts(part: MIMEPart) -> Iterator[MIMEPart]:
    if not isinstance(part, MIMEPart):
        raise ValueError(
            f"A part of the message is {type_phrase(part)}, not a MIME part; build"
            " multipart messages with add_alternative() and add_attachment()."
        )
    if part.is_attachment():
        return
    if part.is_multipart():
        if part.get_content_maintype() == "message":
            return  # a forwarded or attached mail is someone else's
        for sub in part.iter_parts():
            yield from _html_parts(sub)
    elif part.get_content_type() == "text/html":
        yield part


def _replace_html(part: MIMEPart, html: str, charset: str) -> None:
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    params = {
        key: value
        for key, value in (part.get_params() or [])[1:]
        if key.lower() != "charset" and isinstance(value, str)
    }
    # set_content clears every Content-* header; keep those it does not write itself.
    kept = [
        (key, value)
        for key, value in part.items()
        if key.lower().startswith("content-")
        and key.lower() not in ("content-type", "content-transfer-encoding")
    ]
    raw_data_manager.set_content(
        part,
        html,
        subtype="html",
        charset=charset,
        cte=cte if cte in ("quoted-printable", "base64") else None,
        params=params or None,
    )
    for key, value in kept:
        part[key] = value


# -- small checks ------------------------------------------------------------------------


def _port(parts: SplitResult) -> int | None:
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())


def _check_mode(mode: str) -> None:
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(
            f"The tracking mode must be one of {', '.join(_MODES)}, not {describe(mode)}."
        )


def _mailto_uri(mailto: str) -> str:
    if not isinstance(mailto, str):
        raise ValueError(
            f"The unsubscribe mailto must be a string such as leave@example.com, not"
            f" {type_phrase(mailto)}."
        )
    check_utf8(mailto, "The unsubscribe mailto")
    uri = mailto if mailto[:7].lower() == "mailto:" else f"mailto:{mailto}"
    address = uri[7:].split("?", 1)[0]
    if "@" not in address or _MAILTO_FORBIDDEN.search(uri):
        raise ValueError(
            "The unsubscribe mailto must be an address such as leave@example.com or a"
            " mailto: URI without spaces, commas or angle brackets."
        )
    return uri
