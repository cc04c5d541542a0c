"""Banner and dialog texts per language; the receipt records a hash of the text shown.

The texts are data. The notice hash is computed by the server from the language the
visitor saw, so a receipt proves which wording was on screen.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

COUNTING = {
    "en": {
        "until-refused": "Until you choose, we count page views without cookies or ids, as a "
                         "server log would. After \"Reject all\" we count nothing.",
        "always": "We count page views without cookies or ids even if you refuse; cookies "
                  "and ids only with your consent.",
        "never": "We count nothing until you allow analytics.",
    },
    "de": {
        "until-refused": "Bis Sie wählen, zählen wir Seitenaufrufe ohne Cookies oder "
                         "Kennungen, wie ein Server-Log. Nach \"Alle ablehnen\" zählen wir "
                         "nichts.",
        "always": "Wir zählen Seitenaufrufe ohne Cookies oder Kennungen auch bei Ablehnung; "
                  "Cookies und Kennungen nur mit Ihrer Einwilligung.",
        "never": "Wir zählen nichts, bis Sie Statistik erlauben.",
    },
    "ar": {
        "until-refused": "حتى تختار، نحصي مشاهدات الصفحات دون ملفات تعريف أو معرّفات، كما "
                         "يفعل سجل الخادم. بعد \"رفض الكل\" لا نحصي شيئًا.",
        "always": "نحصي مشاهدات الصفحات دون ملفات تعريف أو معرّفات حتى إن رفضت؛ ملفات "
                  "التعريف والمعرّفات بموافقتك فقط.",
        "never": "لا نحصي شيئًا حتى تسمح بالتحليلات.",
    },
}

#: The counting sentence for a browser that sends Do Not Track: DNT refuses analytics for
#: good, so "until you choose" would be untrue; under ``always`` hits still count, without ids.
COUNTING_DNT = {
    "en": {
        "until-refused": "Because your browser sends Do Not Track, we count nothing, not even "
                         "page views without cookies.",
        "always": "Because your browser sends Do Not Track, we count page views only without "
                  "cookies or ids, as a server log would.",
        "never": "Because your browser sends Do Not Track, we count nothing.",
    },
    "de": {
        "until-refused": "Weil Ihr Browser Do Not Track sendet, zählen wir nichts, auch keine "
                         "Seitenaufrufe ohne Cookies.",
        "always": "Weil Ihr Browser Do Not Track sendet, zählen wir Seitenaufrufe nur ohne "
                  "Cookies oder Kennungen, wie ein Server-Log.",
        "never": "Weil Ihr Browser Do Not Track sendet, zählen wir nichts.",
    },
    "ar": {
        "until-refused": "لأن متصفحك يطلب عدم التتبع، لا نحصي شيئًا، ولا حتى مشاهدات الصفحات "
                         "دون ملفات تعريف.",
        "always": "لأن متصفحك يطلب عدم التتبع، نحصي مشاهدات الصفحات دون ملفات تعريف أو "
                  "معرّفات فقط، كما يفعل سجل الخادم.",
        "never": "لأن متصفحك يطلب عدم التتبع، لا نحصي شيئًا.",
    },
}

TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "dir": "ltr",
        "title": "Cookies and privacy",
        "body": "We use cookies only with your consent. You can change your choice at any "
                "time under \"Cookie settings\".",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "preferences": "Cookie settings",
        "save": "Save choices",
        "close": "Close",
        "necessary_locked": "Always on",
        "dnt_notice": "Your browser asks not to be tracked (Do Not Track), so analytics and "
                      "personalization stay off.",
        "gpc_notice": "Your browser sends Global Privacy Control, so marketing stays off "
                      "unless you switch it on here.",
        "cookies_heading": "Cookies",
        "cookie_name": "Name",
        "cookie_purpose": "Purpose",
        "cookie_lifetime": "Lifetime",
        "policy_link": "Privacy policy",
        "purposes": {
            "necessary": {"label": "Necessary",
                          "description": "Remembers your choice and keeps you logged in when "
                                         "you ask. Cannot be switched off."},
            "analytics": {"label": "Analytics",
                          "description": "Counts visits with a random id that ends after 30 "
                                         "idle minutes."},
            "personalization": {"label": "Personalization",
                                "description": "Recognises this browser when it returns, with "
                                               "a random id."},
            "marketing": {"label": "Marketing",
                          "description": "Allows third-party advertising and marketing tags."},
        },
    },
    "de": {
        "dir": "ltr",
        "title": "Cookies und Datenschutz",
        "body": "Wir verwenden Cookies nur mit Ihrer Einwilligung. Unter "
                "\"Cookie-Einstellungen\" können Sie Ihre Wahl jederzeit ändern.",
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "preferences": "Cookie-Einstellungen",
        "save": "Auswahl speichern",
        "close": "Schließen",
        "necessary_locked": "Immer aktiv",
        "dnt_notice": "Ihr Browser bittet, nicht verfolgt zu werden (Do Not Track); Statistik "
                      "und Personalisierung bleiben aus.",
        "gpc_notice": "Ihr Browser sendet Global Privacy Control; Marketing bleibt aus, außer "
                      "Sie schalten es hier ein.",
        "cookies_heading": "Cookies",
        "cookie_name": "Name",
        "cookie_purpose": "Zweck",
        "cookie_lifetime": "Dauer",
        "policy_link": "Datenschutzerklärung",
        "purposes": {
            "necessary": {"label": "Notwendig",
                          "description": "Speichert Ihre Wahl und hält Sie auf Wunsch "
                                         "angemeldet. Nicht abschaltbar."},
            "analytics": {"label": "Statistik",
                          "description": "Zählt Besuche mit einer zufälligen Kennung, die "
                                         "nach 30 Minuten Inaktivität endet."},
            "personalization": {"label": "Personalisierung",
                                "description": "Erkennt diesen Browser bei der Rückkehr an "
                                               "einer zufälligen Kennung."},
            "marketing": {"label": "Marketing",
                          "description": "Erlaubt Werbe- und Marketing-Dienste Dritter."},
        },
    },
    "ar": {
        "dir": "rtl",
        "title": "ملفات تعريف الارتباط والخصوصية",
        "body": "نستخدم ملفات تعريف الارتباط بموافقتك فقط. يمكنك تغيير اختيارك في أي وقت من "
                "\"إعدادات ملفات التعريف\".",
        "accept_all": "قبول الكل",
        "reject_all": "رفض الكل",
        "preferences": "إعدادات ملفات التعريف",
        "save": "حفظ الاختيارات",
        "close": "إغلاق",
        "necessary_locked": "مفعّل دائمًا",
        "dnt_notice": "يطلب متصفحك عدم التتبع، لذا تبقى التحليلات والتخصيص متوقفة.",
        "gpc_notice": "يرسل متصفحك إشارة التحكم العالمي في الخصوصية، لذا يبقى التسويق متوقفًا "
                      "ما لم تفعّله هنا.",
        "cookies_heading": "ملفات تعريف الارتباط",
        "cookie_name": "الاسم",
        "cookie_purpose": "الغرض",
        "cookie_lifetime": "المدة",
        "policy_link": "سياسة الخصوصية",
        "purposes": {
            "necessary": {"label": "ضرورية",
                          "description": "تحفظ اختيارك وتبقيك مسجلًا عند الطلب. لا يمكن "
                                         "إيقافها."},
            "analytics": {"label": "التحليلات",
                          "description": "تحصي الزيارات بمعرّف عشوائي ينتهي بعد 30 دقيقة "
                                         "من الخمول."},
            "personalization": {"label": "التخصيص",
                                "description": "تتعرف على هذا المتصفح عند عودته بمعرّف "
                                               "عشوائي."},
            "marketing": {"label": "التسويق",
                          "description": "تسمح بأدوات الإعلان والتسويق من أطراف ثالثة."},
        },
    },
}

LANGUAGES = tuple(TEXTS)


def pick_language(requested: str | None, default: str = "en") -> str:
    """The shipped language for a requested tag (``de-AT`` gives ``de``), else the default."""
    if requested:
        primary = requested.strip().split("-")[0].split("_")[0].lower()
        if primary in TEXTS:
            return primary
    return default if default in TEXTS else "en"


def notice(lang: str, counting: str, dnt: bool = False) -> dict[str, Any]:
    """The full notice for a language: its texts plus the counting-mode sentence shown, the
    Do Not Track one when ``dnt`` (the browser sends DNT and ``HONOR_DNT`` is on)."""
    texts = dict(TEXTS[lang])
    texts["counting"] = (COUNTING_DNT if dnt else COUNTING)[lang][counting]
    return texts


def notice_hash(lang: str, counting: str, revision: int, dnt: bool = False) -> str:
    """SHA-256 over the notice as shown (canonical JSON), bound to the policy revision;
    ``dnt`` as for :func:`notice`. Without DNT the hash is what it was before DNT texts."""
    body = json.dumps({"revision": revision, "texts": notice(lang, counting, dnt)},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()
