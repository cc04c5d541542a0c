"""The dashboard's words in English, German and Arabic (right to left), the banner's
languages, and the number formats that go with them.

Texts are data: a template asks for ``t("key", name=value)``; a missing key in German or
Arabic falls back to English (a test keeps the three complete).
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "de", "ar")
#: Each language's name in itself, for the language links.
NATIVE = {"en": "English", "de": "Deutsch", "ar": "العربية"}
RTL = frozenset({"ar"})

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "product": "cleargif",
        "dashboard": "Dashboard",
        "page_title": "{site} · cleargif",
        "skip": "Skip to the numbers",
        "signed_in_as": "Signed in as {name}",
        "sign_out": "Sign out",
        "languages": "Language",
        # sign-in
        "login_title": "Sign in",
        "login_intro": "Sign in to see your sites' statistics.",
        "login_help": "Accounts are made on the server with {command}.",
        "username": "User name",
        "password": "Password",
        "remember": "Remember me on this device for {days} days",
        "sign_in": "Sign in",
        "wrong_password": "The user name or password is not right.",
        "form_expired": "The form had expired, or your browser did not keep its cookie; "
                        "please sign in again.",
        "rate_limited": "Too many sign-in attempts from your network. Wait {seconds} s, then "
                        "try again.",
        "signed_out": "You are signed out.",
        "continue": "Continue to the dashboard",
        "continue_why": "You came from another site, so your browser kept your sign-in back "
                        "for this one request.",
        "store_down": "A store of the collector is not available right now; try again in a "
                      "minute.",
        # pickers
        "choose": "Choose what to show",
        "site": "Site",
        "period": "Period",
        "period_today": "Today",
        "period_7d": "Last 7 days",
        "period_30d": "Last 30 days",
        "period_month": "A month",
        "period_custom": "Custom",
        "month": "Month",
        "from": "From",
        "to": "To",
        "show": "Show",
        "showing": "{since} to {until}",
        "showing_day": "{day}",
        "compared": "Compared with {since} to {until}",
        "months": "January,February,March,April,May,June,July,August,September,October,"
                  "November,December",
        # filters
        "filters": "Filters",
        "filter_is": "{dimension} is {value}",
        "remove_filter": "Remove the filter {dimension} is {value}",
        "clear_filters": "Clear all filters",
        "filter_by": "Show only {value}",
        "unfilter": "Show all again",
        "none_value": "(none)",
        "direct": "(direct)",
        "other": "(other)",
        # dimensions
        "dim_path": "Page",
        "dim_referrer_host": "Referrer",
        "dim_utm_source": "UTM source",
        "dim_utm_medium": "UTM medium",
        "dim_utm_campaign": "UTM campaign",
        "dim_name": "Event",
        "dim_browser": "Browser",
        "dim_os": "Operating system",
        "dim_device": "Device",
        "dim_lang": "Language",
        "dim_day": "Day",
        # key figures
        "summary": "Summary",
        "pageviews": "Page views",
        "events_of": "Events",
        "visits": "Visits",
        "returning": "Returning visitors (consented)",
        "held_back": "held back",
        "held_back_why": "fewer than {k} people",
        "change_up": "up {pct} on the period before",
        "change_down": "down {pct} on the period before",
        "change_same": "as in the period before",
        "change_new": "none in the period before",
        "change_new_short": "new",
        "was": "was {value}",
        # chart
        "over_time": "Over time",
        "chart_label": "{metric} per day, {since} to {until}",
        "show_table": "Show as a table",
        "gap_note": "A day without a value had no hits, or hits from fewer than {k} people, "
                    "which are held back.",
        # panels
        "panel_pages": "Pages",
        "panel_sources": "Sources",
        "panel_events": "Events",
        "panel_devices": "Devices",
        "panel_languages": "Languages",
        "tab_referrer_host": "Referrers",
        "tab_utm_source": "UTM source",
        "tab_utm_medium": "UTM medium",
        "tab_utm_campaign": "UTM campaign",
        "tab_browser": "Browsers",
        "tab_os": "Systems",
        "tab_device": "Devices",
        "col_views": "Views",
        "col_hits": "Hits",
        "col_visits": "Visits",
        "col_share": "Share",
        "download_csv": "CSV",
        "download_csv_of": "Download {table} as CSV",
        "no_rows": "Nothing here in this period.",
        "other_note": "(other) gathers the rows of fewer than {k} people each.",
        "other_dropped": "{n} rows of fewer than {k} people are not shown: even together they "
                         "come from fewer than {k} people.",
        "filtered_here": "Filtered by this row",
        "all_rows": "All {n} rows",
        "top_rows": "Only the top {n}",
        "device_desktop": "Desktop",
        "device_mobile": "Mobile",
        "device_tablet": "Tablet",
        "device_bot": "Bot",
        "device_other": "Other",
        # campaigns
        "panel_campaigns": "Email campaigns",
        "campaign": "Campaign",
        "sends": "Sends",
        "human_opens": "Human opens",
        "apple_opens": "Apple MPP opens",
        "machine_opens": "Machine opens",
        "open_rate": "Open rate",
        "clicks": "Clicks",
        "link": "Link",
        "unique_clicks": "Unique clicks",
        "machine_clicks": "Machine clicks",
        "unsubscribes": "Unsubscribes",
        "clicks_per_link": "Clicks per link, {campaign}",
        "no_campaigns": "No email campaign had opens or clicks in this period.",
        "campaigns_table": "Opens, clicks and unsubscribes per campaign",
        "campaigns_note": "Campaigns with opens or clicks in this period, from every sender "
                          "of this collector; each shows its whole life. Apple Mail Privacy "
                          "Protection opens every mail on delivery, so its opens say nothing "
                          "about reading and are not in the open rate.",
        "suppressed": "held back",
        # consent
        "panel_consent": "Consent",
        "decisions": "Decisions",
        "granting": "Granting {purpose}",
        "with_gpc": "With GPC",
        "with_dnt": "With DNT",
        "purpose_analytics": "Analytics",
        "purpose_personalization": "Personalization",
        "purpose_marketing": "Marketing",
        "consent_chart": "Share of decisions granting each purpose per day, {since} to "
                         "{until}",
        "consent_total": "All days",
        "no_decisions": "No consent decisions in this period.",
        "decisions_held": "Fewer than {k} browsers decided in this period, so their "
                          "decisions are held back.",
        "consent_note": "Decisions from the banner on every site of this collector (a "
                        "receipt does not name its site). Days on which fewer than {k} "
                        "browsers decided are gathered in (other), or held back. GPC and DNT "
                        "are browser signals that refuse marketing, and analytics and "
                        "personalization.",
        # not counted
        "panel_not_counted": "Not counted",
        "reason": "Reason",
        "reason_bot": "Bots and crawlers",
        "reason_prefetch": "Prefetches",
        "reason_site": "Unlisted sites",
        "reason_network": "Excluded networks",
        "reason_rate": "Over the rate limit",
        "reason_consent": "Refused, or Do Not Track",
        "reason_method": "Not a GET request",
        "nothing_dropped": "Every hit of this period was counted.",
        "not_counted_note": "Bots are counted for this site; the other reasons for every site "
                            "of this collector, since a hit that is not counted keeps no site.",
        # about
        "about": "About these numbers",
        "about_k": "Every number comes from at least {k} people (K_MIN): a row from fewer is "
                   "gathered in (other), and (other) itself is held back when it is smaller. "
                   "People are counted by their visitor id, else their visit, else each hit "
                   "without an id counts as one.",
        "about_visits": "Visits are sessions of visitors who allowed analytics; returning "
                        "visitors are those who also allowed personalization.",
        "about_differencing": "Held-back numbers can sometimes be worked out by comparing "
                              "overlapping periods or filters; the rule keeps single people "
                              "out of a view, not out of every calculation.",
        "about_same": "Each table is the same aggregate as {command}, and its CSV is what "
                      "that command writes.",
        "about_rolled": "Days before today are read from daily totals: their visits and "
                        "returning visitors are sums of each day's counts, so someone who "
                        "came on three days counts three times.",
        "empty_k": "Nothing can be shown for this period yet: every number comes from at least "
                   "{k} people (K_MIN), and fewer came. Trying cleargif on your own? Open the "
                   "demo page in a few private windows, or start the collector with "
                   "{setting} on this machine.",
        # errors
        "bad_request": "That view cannot be shown",
        "back": "Back to the last 30 days",
        "no_sites": "No site is configured: set ALLOWED_ORIGINS (or SITES) and restart the "
                    "collector.",
        "err_period": "Choose a period: today, 7d, 30d, month or custom.",
        "err_month": "Choose a month as YYYY-MM, such as 2026-11.",
        "err_day": "Give the days of a custom period as YYYY-MM-DD, such as 2026-11-30.",
        "err_order": "The last day of the period is before its first day; swap them.",
        "err_span": "A custom period may cover at most {days} days; choose a shorter one.",
        "err_site": "That site is not one of this collector's; choose one from the list.",
        "err_filter": "A filter is written dimension:value, such as path:/pricing, with a "
                      "dimension among {dimensions}.",
        "err_filters": "At most {n} filters at once; remove some.",
        "err_table": "There is no table of that name to download.",
        "err_timezone": "This period reaches days rolled up in another time zone: {detail}",
    },
    "de": {
        "product": "cleargif",
        "dashboard": "Übersicht",
        "page_title": "{site} · cleargif",
        "skip": "Zu den Zahlen springen",
        "signed_in_as": "Angemeldet als {name}",
        "sign_out": "Abmelden",
        "languages": "Sprache",
        "login_title": "Anmelden",
        "login_intro": "Melden Sie sich an, um die Statistik Ihrer Websites zu sehen.",
        "login_help": "Konten werden auf dem Server mit {command} angelegt.",
        "username": "Benutzername",
        "password": "Passwort",
        "remember": "Auf diesem Gerät {days} Tage angemeldet bleiben",
        "sign_in": "Anmelden",
        "wrong_password": "Benutzername oder Passwort stimmt nicht.",
        "form_expired": "Das Formular war abgelaufen, oder Ihr Browser hat sein Cookie nicht "
                        "behalten; bitte melden Sie sich erneut an.",
        "rate_limited": "Zu viele Anmeldeversuche aus Ihrem Netz. Warten Sie {seconds} s "
                        "und versuchen Sie es dann erneut.",
        "signed_out": "Sie sind abgemeldet.",
        "continue": "Weiter zur Übersicht",
        "continue_why": "Sie kamen von einer anderen Website, daher hat Ihr Browser Ihre "
                        "Anmeldung für diese eine Anfrage zurückgehalten.",
        "store_down": "Ein Speicher des Collectors ist gerade nicht erreichbar; versuchen Sie "
                      "es in einer Minute erneut.",
        "choose": "Auswahl",
        "site": "Website",
        "period": "Zeitraum",
        "period_today": "Heute",
        "period_7d": "Letzte 7 Tage",
        "period_30d": "Letzte 30 Tage",
        "period_month": "Ein Monat",
        "period_custom": "Eigener Zeitraum",
        "month": "Monat",
        "from": "Von",
        "to": "Bis",
        "show": "Anzeigen",
        "showing": "{since} bis {until}",
        "showing_day": "{day}",
        "compared": "Verglichen mit {since} bis {until}",
        "months": "Januar,Februar,März,April,Mai,Juni,Juli,August,September,Oktober,"
                  "November,Dezember",
        "filters": "Filter",
        "filter_is": "{dimension} ist {value}",
        "remove_filter": "Filter {dimension} ist {value} entfernen",
        "clear_filters": "Alle Filter entfernen",
        "filter_by": "Nur {value} zeigen",
        "unfilter": "Wieder alle zeigen",
        "none_value": "(keine)",
        "direct": "(direkt)",
        "other": "(andere)",
        "dim_path": "Seite",
        "dim_referrer_host": "Verweis",
        "dim_utm_source": "UTM-Quelle",
        "dim_utm_medium": "UTM-Medium",
        "dim_utm_campaign": "UTM-Kampagne",
        "dim_name": "Ereignis",
        "dim_browser": "Browser",
        "dim_os": "Betriebssystem",
        "dim_device": "Gerät",
        "dim_lang": "Sprache",
        "dim_day": "Tag",
        "summary": "Überblick",
        "pageviews": "Seitenaufrufe",
        "events_of": "Ereignisse",
        "visits": "Besuche",
        "returning": "Wiederkehrende Besucher (mit Einwilligung)",
        "held_back": "zurückgehalten",
        "held_back_why": "weniger als {k} Personen",
        "change_up": "{pct} mehr als im Zeitraum davor",
        "change_down": "{pct} weniger als im Zeitraum davor",
        "change_same": "wie im Zeitraum davor",
        "change_new": "keine im Zeitraum davor",
        "change_new_short": "neu",
        "was": "vorher {value}",
        "over_time": "Verlauf",
        "chart_label": "{metric} pro Tag, {since} bis {until}",
        "show_table": "Als Tabelle zeigen",
        "gap_note": "Ein Tag ohne Wert hatte keine Aufrufe oder Aufrufe von weniger als {k} "
                    "Personen, die zurückgehalten werden.",
        "panel_pages": "Seiten",
        "panel_sources": "Quellen",
        "panel_events": "Ereignisse",
        "panel_devices": "Geräte",
        "panel_languages": "Sprachen",
        "tab_referrer_host": "Verweise",
        "tab_utm_source": "UTM-Quelle",
        "tab_utm_medium": "UTM-Medium",
        "tab_utm_campaign": "UTM-Kampagne",
        "tab_browser": "Browser",
        "tab_os": "Systeme",
        "tab_device": "Geräte",
        "col_views": "Aufrufe",
        "col_hits": "Anzahl",
        "col_visits": "Besuche",
        "col_share": "Anteil",
        "download_csv": "CSV",
        "download_csv_of": "{table} als CSV herunterladen",
        "no_rows": "In diesem Zeitraum nichts.",
        "other_note": "(andere) fasst die Zeilen von jeweils weniger als {k} Personen zusammen.",
        "other_dropped": "{n} Zeilen von weniger als {k} Personen werden nicht gezeigt: auch "
                         "zusammen stammen sie von weniger als {k} Personen.",
        "filtered_here": "Nach dieser Zeile gefiltert",
        "all_rows": "Alle {n} Zeilen",
        "top_rows": "Nur die ersten {n}",
        "device_desktop": "Desktop",
        "device_mobile": "Mobil",
        "device_tablet": "Tablet",
        "device_bot": "Bot",
        "device_other": "Andere",
        "panel_campaigns": "E-Mail-Kampagnen",
        "campaign": "Kampagne",
        "sends": "Versendet",
        "human_opens": "Öffnungen durch Menschen",
        "apple_opens": "Öffnungen durch Apple MPP",
        "machine_opens": "Öffnungen durch Maschinen",
        "open_rate": "Öffnungsrate",
        "clicks": "Klicks",
        "link": "Link",
        "unique_clicks": "Eindeutige Klicks",
        "machine_clicks": "Klicks durch Maschinen",
        "unsubscribes": "Abmeldungen",
        "clicks_per_link": "Klicks pro Link, {campaign}",
        "no_campaigns": "Keine E-Mail-Kampagne hatte in diesem Zeitraum Öffnungen oder Klicks.",
        "campaigns_table": "Öffnungen, Klicks und Abmeldungen je Kampagne",
        "campaigns_note": "Kampagnen mit Öffnungen oder Klicks in diesem Zeitraum, von allen "
                          "Absendern dieses Collectors; jede über ihre ganze Laufzeit. Apple "
                          "Mail Privacy Protection öffnet jede Mail bei der Zustellung; diese "
                          "Öffnungen sagen nichts über das Lesen und zählen nicht zur "
                          "Öffnungsrate.",
        "suppressed": "zurückgehalten",
        "panel_consent": "Einwilligung",
        "decisions": "Entscheidungen",
        "granting": "Erlauben {purpose}",
        "with_gpc": "Mit GPC",
        "with_dnt": "Mit DNT",
        "purpose_analytics": "Statistik",
        "purpose_personalization": "Personalisierung",
        "purpose_marketing": "Marketing",
        "consent_chart": "Anteil der Entscheidungen, die einen Zweck erlauben, pro Tag, "
                         "{since} bis {until}",
        "consent_total": "Alle Tage",
        "no_decisions": "In diesem Zeitraum keine Entscheidungen.",
        "decisions_held": "In diesem Zeitraum entschieden weniger als {k} Browser; ihre "
                          "Entscheidungen werden zurückgehalten.",
        "consent_note": "Entscheidungen im Banner aller Websites dieses Collectors (ein Beleg "
                        "nennt seine Website nicht). Tage, an denen weniger als {k} Browser "
                        "entschieden, sind unter (andere) zusammengefasst oder zurückgehalten. "
                        "GPC und DNT sind Browsersignale, die Marketing bzw. Statistik und "
                        "Personalisierung ablehnen.",
        "panel_not_counted": "Nicht gezählt",
        "reason": "Grund",
        "reason_bot": "Bots und Crawler",
        "reason_prefetch": "Vorabrufe",
        "reason_site": "Nicht gelistete Websites",
        "reason_network": "Ausgeschlossene Netze",
        "reason_rate": "Über dem Ratenlimit",
        "reason_consent": "Abgelehnt oder Do Not Track",
        "reason_method": "Keine GET-Anfrage",
        "nothing_dropped": "Jeder Aufruf dieses Zeitraums wurde gezählt.",
        "not_counted_note": "Bots werden für diese Website gezählt, die anderen Gründe für alle "
                            "Websites dieses Collectors, da ein nicht gezählter Aufruf keine "
                            "Website behält.",
        "about": "Über diese Zahlen",
        "about_k": "Jede Zahl stammt von mindestens {k} Personen (K_MIN): Zeilen von weniger "
                   "Personen werden unter (andere) zusammengefasst, und (andere) wird "
                   "zurückgehalten, wenn es selbst kleiner ist. Personen werden an ihrer "
                   "Besucherkennung erkannt, sonst an ihrem Besuch, sonst zählt jeder Aufruf "
                   "ohne Kennung als eine Person.",
        "about_visits": "Besuche sind Sitzungen von Besuchern, die Statistik erlaubt haben; "
                        "wiederkehrende Besucher haben auch Personalisierung erlaubt.",
        "about_differencing": "Zurückgehaltene Zahlen lassen sich manchmal aus überlappenden "
                              "Zeiträumen oder Filtern errechnen; die Regel hält einzelne "
                              "Personen aus einer Ansicht heraus, nicht aus jeder Rechnung.",
        "about_same": "Jede Tabelle ist dasselbe Aggregat wie {command}, und ihre CSV ist, "
                      "was dieser Befehl schreibt.",
        "about_rolled": "Tage vor heute werden aus Tagessummen gelesen: ihre Besuche und "
                        "wiederkehrenden Besucher sind Summen der Tageswerte, wer an drei "
                        "Tagen kam, zählt also dreimal.",
        "empty_k": "Für diesen Zeitraum lässt sich noch nichts zeigen: Jede Zahl stammt von "
                   "mindestens {k} Personen (K_MIN), und es kamen weniger. Sie probieren "
                   "cleargif allein aus? Öffnen Sie die Demoseite in einigen privaten "
                   "Fenstern, oder starten Sie den Collector auf diesem Rechner mit "
                   "{setting}.",
        "bad_request": "Diese Ansicht lässt sich nicht zeigen",
        "back": "Zurück zu den letzten 30 Tagen",
        "no_sites": "Keine Website eingerichtet: Setzen Sie ALLOWED_ORIGINS (oder SITES) und "
                    "starten Sie den Collector neu.",
        "err_period": "Wählen Sie einen Zeitraum: today, 7d, 30d, month oder custom.",
        "err_month": "Geben Sie einen Monat als JJJJ-MM an, etwa 2026-11.",
        "err_day": "Geben Sie die Tage eines eigenen Zeitraums als JJJJ-MM-TT an, etwa "
                   "2026-11-30.",
        "err_order": "Der letzte Tag liegt vor dem ersten; vertauschen Sie sie.",
        "err_span": "Ein eigener Zeitraum umfasst höchstens {days} Tage; wählen Sie einen "
                    "kürzeren.",
        "err_site": "Diese Website gehört nicht zu diesem Collector; wählen Sie eine aus der "
                    "Liste.",
        "err_filter": "Ein Filter wird Dimension:Wert geschrieben, etwa path:/pricing, mit "
                      "einer Dimension aus {dimensions}.",
        "err_filters": "Höchstens {n} Filter gleichzeitig; entfernen Sie einige.",
        "err_table": "Eine Tabelle dieses Namens gibt es nicht.",
        "err_timezone": "Dieser Zeitraum reicht an Tage, die in einer anderen Zeitzone "
                        "zusammengefasst wurden: {detail}",
    },
    "ar": {
        "product": "cleargif",
        "dashboard": "لوحة المعلومات",
        "page_title": "{site} · cleargif",
        "skip": "انتقل إلى الأرقام",
        "signed_in_as": "مسجّل الدخول باسم {name}",
        "sign_out": "تسجيل الخروج",
        "languages": "اللغة",
        "login_title": "تسجيل الدخول",
        "login_intro": "سجّل الدخول لرؤية إحصاءات مواقعك.",
        "login_help": "تُنشأ الحسابات على الخادم بالأمر {command}.",
        "username": "اسم المستخدم",
        "password": "كلمة المرور",
        "remember": "تذكّرني على هذا الجهاز لمدة {days} يومًا",
        "sign_in": "دخول",
        "wrong_password": "اسم المستخدم أو كلمة المرور غير صحيح.",
        "form_expired": "انتهت صلاحية النموذج، أو لم يحتفظ متصفحك بملف تعريف الارتباط الخاص "
                        "به؛ يُرجى تسجيل الدخول مرة أخرى.",
        "rate_limited": "محاولات دخول كثيرة جدًا من شبكتك. انتظر {seconds} ث ثم حاول مرة "
                        "أخرى.",
        "signed_out": "لقد سجّلت الخروج.",
        "continue": "المتابعة إلى لوحة المعلومات",
        "continue_why": "أتيت من موقع آخر، لذلك حجب متصفحك تسجيل دخولك عن هذا الطلب وحده.",
        "store_down": "أحد مخازن البيانات غير متاح الآن؛ حاول مرة أخرى بعد دقيقة.",
        "choose": "اختر ما يُعرض",
        "site": "الموقع",
        "period": "الفترة",
        "period_today": "اليوم",
        "period_7d": "آخر 7 أيام",
        "period_30d": "آخر 30 يومًا",
        "period_month": "شهر",
        "period_custom": "فترة مخصّصة",
        "month": "الشهر",
        "from": "من",
        "to": "إلى",
        "show": "عرض",
        "showing": "من {since} إلى {until}",
        "showing_day": "{day}",
        "compared": "مقارنة بالفترة من {since} إلى {until}",
        "months": "يناير,فبراير,مارس,أبريل,مايو,يونيو,يوليو,أغسطس,سبتمبر,أكتوبر,نوفمبر,"
                  "ديسمبر",
        "filters": "عوامل التصفية",
        "filter_is": "{dimension} هو {value}",
        "remove_filter": "إزالة عامل التصفية {dimension} هو {value}",
        "clear_filters": "إزالة كل عوامل التصفية",
        "filter_by": "عرض {value} فقط",
        "unfilter": "عرض الكل مجددًا",
        "none_value": "(لا شيء)",
        "direct": "(مباشر)",
        "other": "(أخرى)",
        "dim_path": "الصفحة",
        "dim_referrer_host": "المُحيل",
        "dim_utm_source": "مصدر UTM",
        "dim_utm_medium": "وسيط UTM",
        "dim_utm_campaign": "حملة UTM",
        "dim_name": "الحدث",
        "dim_browser": "المتصفح",
        "dim_os": "نظام التشغيل",
        "dim_device": "الجهاز",
        "dim_lang": "اللغة",
        "dim_day": "اليوم",
        "summary": "الملخّص",
        "pageviews": "مشاهدات الصفحات",
        "events_of": "الأحداث",
        "visits": "الزيارات",
        "returning": "الزوّار العائدون (بموافقتهم)",
        "held_back": "محجوب",
        "held_back_why": "أقل من {k} أشخاص",
        "change_up": "بزيادة {pct} عن الفترة السابقة",
        "change_down": "بنقص {pct} عن الفترة السابقة",
        "change_same": "كما في الفترة السابقة",
        "change_new": "لا شيء في الفترة السابقة",
        "change_new_short": "جديد",
        "was": "كان {value}",
        "over_time": "عبر الزمن",
        "chart_label": "{metric} في اليوم، من {since} إلى {until}",
        "show_table": "عرض كجدول",
        "gap_note": "اليوم الذي لا قيمة له لم تكن فيه زيارات، أو كانت من أقل من {k} أشخاص "
                    "فحُجبت.",
        "panel_pages": "الصفحات",
        "panel_sources": "المصادر",
        "panel_events": "الأحداث",
        "panel_devices": "الأجهزة",
        "panel_languages": "اللغات",
        "tab_referrer_host": "المُحيلون",
        "tab_utm_source": "مصدر UTM",
        "tab_utm_medium": "وسيط UTM",
        "tab_utm_campaign": "حملة UTM",
        "tab_browser": "المتصفحات",
        "tab_os": "الأنظمة",
        "tab_device": "الأجهزة",
        "col_views": "المشاهدات",
        "col_hits": "العدد",
        "col_visits": "الزيارات",
        "col_share": "الحصة",
        "download_csv": "CSV",
        "download_csv_of": "تنزيل {table} بصيغة CSV",
        "no_rows": "لا شيء في هذه الفترة.",
        "other_note": "يجمع (أخرى) الصفوف التي جاءت كلٌّ منها من أقل من {k} أشخاص.",
        "other_dropped": "لا تُعرض {n} صفوف من أقل من {k} أشخاص: فهي مجتمعةً من أقل من {k} "
                         "أشخاص.",
        "filtered_here": "مُصفّى حسب هذا الصف",
        "all_rows": "كل الصفوف ({n})",
        "top_rows": "أول {n} فقط",
        "device_desktop": "حاسوب",
        "device_mobile": "هاتف",
        "device_tablet": "جهاز لوحي",
        "device_bot": "روبوت",
        "device_other": "أخرى",
        "panel_campaigns": "حملات البريد الإلكتروني",
        "campaign": "الحملة",
        "sends": "المُرسَل",
        "human_opens": "فتحات بشرية",
        "apple_opens": "فتحات Apple MPP",
        "machine_opens": "فتحات آلية",
        "open_rate": "معدّل الفتح",
        "clicks": "النقرات",
        "link": "الرابط",
        "unique_clicks": "نقرات فريدة",
        "machine_clicks": "نقرات آلية",
        "unsubscribes": "إلغاءات الاشتراك",
        "clicks_per_link": "النقرات لكل رابط، {campaign}",
        "no_campaigns": "لم تُفتح أي حملة بريدية ولم يُنقر عليها في هذه الفترة.",
        "campaigns_table": "الفتحات والنقرات وإلغاءات الاشتراك لكل حملة",
        "campaigns_note": "الحملات التي فُتحت أو نُقر عليها في هذه الفترة، من كل مرسلي هذا "
                          "الجامع؛ وتُعرض كل حملة طوال عمرها. تفتح ميزة حماية الخصوصية في "
                          "بريد Apple كل رسالة عند تسليمها، فلا تدل فتحاتها على القراءة ولا "
                          "تدخل في معدّل الفتح.",
        "suppressed": "محجوب",
        "panel_consent": "الموافقة",
        "decisions": "القرارات",
        "granting": "تسمح بـ{purpose}",
        "with_gpc": "مع GPC",
        "with_dnt": "مع DNT",
        "purpose_analytics": "التحليلات",
        "purpose_personalization": "التخصيص",
        "purpose_marketing": "التسويق",
        "consent_chart": "حصة القرارات التي تسمح بكل غرض في اليوم، من {since} إلى {until}",
        "consent_total": "كل الأيام",
        "no_decisions": "لا قرارات موافقة في هذه الفترة.",
        "decisions_held": "قرّر أقل من {k} متصفحات في هذه الفترة، لذا تُحجب قراراتهم.",
        "consent_note": "قرارات من الشريط في كل مواقع هذا الجامع (لا يذكر الإيصال موقعه). "
                        "الأيام التي قرّر فيها أقل من {k} متصفحات تُجمع في (أخرى) أو تُحجب. "
                        "GPC وDNT إشارتان من المتصفح ترفضان التسويق، والتحليلات والتخصيص.",
        "panel_not_counted": "غير محسوب",
        "reason": "السبب",
        "reason_bot": "الروبوتات وزواحف الويب",
        "reason_prefetch": "الجلب المسبق",
        "reason_site": "مواقع غير مدرجة",
        "reason_network": "شبكات مستبعدة",
        "reason_rate": "تجاوز حدّ المعدّل",
        "reason_consent": "رفض أو عدم التتبع",
        "reason_method": "ليس طلب GET",
        "nothing_dropped": "حُسبت كل زيارات هذه الفترة.",
        "not_counted_note": "تُحسب الروبوتات لهذا الموقع، والأسباب الأخرى لكل مواقع هذا "
                            "الجامع، لأن الزيارة غير المحسوبة لا تحتفظ بموقعها.",
        "about": "عن هذه الأرقام",
        "about_k": "كل رقم يأتي من {k} أشخاص على الأقل (K_MIN): الصف الذي يأتي من أقل يُجمع "
                   "في (أخرى)، ويُحجب (أخرى) نفسه إن كان أصغر. يُعرف الأشخاص بمعرّف الزائر، "
                   "وإلا فبالزيارة، وإلا فكل زيارة بلا معرّف تُحسب شخصًا.",
        "about_visits": "الزيارات جلسات زوّار سمحوا بالتحليلات؛ والزوّار العائدون هم من سمحوا "
                        "بالتخصيص أيضًا.",
        "about_differencing": "قد يمكن أحيانًا استنتاج الأرقام المحجوبة بمقارنة فترات أو "
                              "عوامل تصفية متداخلة؛ فالقاعدة تُبقي الأفراد خارج العرض، لا "
                              "خارج كل حساب.",
        "about_same": "كل جدول هو التجميع نفسه الذي يُخرجه {command}، وملف CSV الخاص به "
                      "هو ما يكتبه ذلك الأمر.",
        "about_rolled": "تُقرأ الأيام السابقة لليوم من مجاميع يومية: زياراتها وزوّارها "
                        "العائدون مجاميع لأعداد كل يوم، فمن جاء في ثلاثة أيام يُحسب ثلاث "
                        "مرات.",
        "empty_k": "لا يمكن عرض شيء لهذه الفترة بعد: كل رقم يأتي من {k} أشخاص على الأقل "
                   "(K_MIN)، وقد جاء عدد أقل. هل تجرّب cleargif وحدك؟ افتح الصفحة "
                   "التجريبية في بضع نوافذ خاصة، أو شغّل الجامع على هذا الجهاز مع "
                   "{setting}.",
        "bad_request": "لا يمكن عرض هذه الصفحة",
        "back": "العودة إلى آخر 30 يومًا",
        "no_sites": "لا يوجد موقع مُعدّ: اضبط ALLOWED_ORIGINS (أو SITES) وأعد تشغيل الجامع.",
        "err_period": "اختر فترة: today أو 7d أو 30d أو month أو custom.",
        "err_month": "اكتب الشهر بالصيغة YYYY-MM، مثل 2026-11.",
        "err_day": "اكتب أيام الفترة المخصّصة بالصيغة YYYY-MM-DD، مثل 2026-11-30.",
        "err_order": "اليوم الأخير من الفترة يسبق يومها الأول؛ بدّل بينهما.",
        "err_span": "يمكن أن تغطي الفترة المخصّصة {days} يومًا على الأكثر؛ اختر فترة أقصر.",
        "err_site": "هذا الموقع ليس من مواقع هذا الجامع؛ اختر واحدًا من القائمة.",
        "err_filter": "يُكتب عامل التصفية بالصيغة dimension:value، مثل path:/pricing، مع بُعد "
                      "من {dimensions}.",
        "err_filters": "{n} عوامل تصفية على الأكثر في آن واحد؛ أزل بعضها.",
        "err_table": "لا يوجد جدول بهذا الاسم للتنزيل.",
        "err_timezone": "تصل هذه الفترة إلى أيام لُخّصت في منطقة زمنية أخرى: {detail}",
    },
}


def pick(requested: str | None, accept: str | None, default: str) -> str:
    """The language of a page: ``?lang=`` when shipped, else the best of the browser's
    ``Accept-Language`` that is, else ``default``."""
    if requested in LANGUAGES:
        return requested
    for part in (accept or "").split(",")[:20]:
        tag = part.split(";")[0].strip().split("-")[0].lower()
        if tag in LANGUAGES:
            return tag
    return default if default in LANGUAGES else "en"


def template(lang: str, key: str) -> str:
    """The text ``key`` in ``lang`` (English when missing), its ``{name}`` places unfilled."""
    return TEXTS.get(lang, TEXTS["en"]).get(key) or TEXTS["en"][key]


def text(lang: str, key: str, **values: object) -> str:
    """The text ``key`` in ``lang`` (English when missing), with ``{name}`` filled in."""
    found = template(lang, key)
    return found.format(**values) if values else found


def number(lang: str, value: int | float) -> str:
    """A count as people read it: ``12,345`` (English, Arabic) or ``12.345`` (German)."""
    shown = f"{value:,.0f}" if isinstance(value, int) else f"{value:,.1f}"
    if lang == "de":
        shown = shown.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return shown


def percent(lang: str, ratio: float, digits: int = 0) -> str:
    """A ratio as a percentage in the language's way: ``12%``, ``12 %``, ``12٪``."""
    value = f"{ratio * 100:.{digits}f}"
    if lang == "de":
        return value.replace(".", ",") + "\u00a0%"
    if lang == "ar":
        return value + "٪"
    return value + "%"


def month_names(lang: str) -> list[str]:
    """January to December in ``lang``."""
    return text(lang, "months").split(",")


def for_language(lang: str) -> Mapping[str, str]:
    """Every text of ``lang``, English where it has none."""
    return {**TEXTS["en"], **TEXTS.get(lang, {})}
