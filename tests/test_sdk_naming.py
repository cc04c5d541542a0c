"""Campaign, list and link names (sdk.naming): readable names pass and reach the event
store as written; names that identify a person or are opaque ids are refused."""

from __future__ import annotations

import base64
import random
import string
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from sdk.mail import Mailer
from sdk.naming import MAX_NAME_LENGTH, campaign_name_problem, check_campaign_name
from sdk.pseudonym import pseudonym
from sdk.scrub import reads_as_word, scrub_text
from sdk.tokens import TokenCodec

KEY = "naming-token-key-0123456789abcdef"
SENT = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class FixedTimeSigner(TimestampSigner):
    """itsdangerous's signer at a fixed moment: the same tokens on every run."""

    def get_timestamp(self) -> int:
        return 1_796_000_000


SIGNED = URLSafeTimedSerializer("k", signer=FixedTimeSigner).dumps({"r": "jane"})
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
PSEUDONYM = pseudonym("account-4711", "a-sender-pseudonym-key-0123456789")

# Names senders really give campaigns; each must be accepted and stored as written.
ACCEPTED = [
    "newsletter-december2026",  # a month and a year in one piece
    "bf2026-early-access",  # a Black Friday code
    "BF2026-EarlyAccess",
    "black-friday-2026-1st-reminder",
    "cyber-monday-2026",
    "cyber-monday-4k-tv-deals",
    "xmas2026-gift-guide",
    "2026-12-06-weekly",  # a dated newsletter
    "weekly-digest-2026-w49",
    "newsletter_20261206",
    "nl_2026_12_06_de",
    "2026q4-investor-update",
    "product-update-v2-3-1",  # versions
    "release-notes-v3.2.0",
    "v1.2.3-product-update-announcement",
    "spring-sale-2026-variant-b",  # A/B variants
    "ab-test-2026-11-B",
    "subject-line-test-A",
    "de-DE-spring",  # locales
    "pt-BR-black-friday-2026",
    "fr-FR-soldes-d-hiver",
    "ja-JP-新春セール-2027",
    "welcome-series-step-1-of-3",  # lifecycle mails
    "onboarding-day-7",
    "re-engagement-90-days",
    "cart-abandonment-24h",
    "q4-2026-b2b-webinar",
    "2fa-reminder",
    "Black Friday 2026",
    "Soldes d'été 2024",
    "Müller & Söhne Herbst 2026",
    "Newsletter #42",
    "NEWSLETTER-SPRING-2026",
    "meet-at-berlin-2026",  # "at" alone does not make an address
    "product-123456",
    "spring-2026",
]

# Names that identify a person or are an opaque id, and a word of the reason given.
REFUSED = [
    ("jane.doe@example.com-welcome", "email address"),
    ("welcome jane.doe@example.org", "email address"),
    ("jane%40example.com", "email address"),  # disguised: encoded, look-alike, written out
    ("jane\uff20example.com", "email address"),
    ("jane.doe(at)example.com", "email address"),
    ("jane [at] example [dot] com", "email address"),
    ("jane-doe-at-example-dot-com", "email address"),
    ("welcome jane at example.com", "email address"),
    ("spring-2026-@jane", "email address"),
    ("welcome-4155550132", "9 or more digits"),  # a phone number
    ("+1 (415) 555-0132 promo", "9 or more digits"),
    ("card-4111-1111-1111-1111", "9 or more digits"),
    ("order-1234567890", "9 or more digits"),
    ("news-203.0.113.9", "IP address"),
    ("vip-2001:db8::1", "IP address"),
    ("f47ac10b-58cc-4372-a567-0e02b2c3d479", "token"),  # a UUID
    ("9b2d3c1e-7f4a-4e8b-a1c2-d3e4f5a6b7c8", "token"),
    ("b03bfc3ed7", "mixes letters and digits"),  # a mail service's 10-hex subscriber id
    ("welcome-b03bfc3ed7", "token"),
    ("a1b2c3d4e5", "mixes letters and digits"),
    ("ref-x7k2p9", "mixes letters and digits"),  # a referral code
    ("user-8f14e45fceea167a5a36dedd4bea2543", "token"),  # an MD5 hash
    ("d41d8cd98f00b204e9800998ecf8427e", "token"),
    (JWT, "token"),
    (SIGNED, "token"),  # an itsdangerous signed value
    ("spring.Wzk0Mi4.aw7lTA", "mixes letters and digits"),
    ("news.dBjftJeZ4CVPmB92K27uhbUJU1p1r", "token"),
    ("user_2Nq8xV7kLp3Rm5Ts", "token"),
    ("MUHV-JKSX-U2XF-FCIG", "token"),  # a licence key
    ("ABCD-1234-EFGH-5678", "token"),
    ("promo-Drmhze6EPcv0fN_81Bj-nA", "token"),
    (f"welcome-{PSEUDONYM}", "switches case"),  # a recipient pseudonym
    ("spring%20news", "percent-escapes"),
    (" spring", "whitespace"),
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_readable_names_are_accepted_and_stored_as_written(name: str) -> None:
    assert campaign_name_problem(name) is None
    assert check_campaign_name(name) == name
    assert scrub_text(name, max_len=MAX_NAME_LENGTH) == name


@pytest.mark.parametrize(("name", "words"), REFUSED)
def test_identifying_and_opaque_names_are_refused(name: str, words: str) -> None:
    problem = campaign_name_problem(name)
    assert problem is not None
    assert problem.startswith("The campaign ") and problem.endswith(".")
    assert words in problem
    assert name.strip() not in problem  # the value itself stays out of logs
    with pytest.raises(ValueError, match=r"^The campaign ") as info:
        check_campaign_name(name)
    assert str(info.value) == problem


def test_the_table_is_large_enough() -> None:
    assert len(ACCEPTED) >= 30 and len(REFUSED) >= 30


@pytest.mark.parametrize("field", ["campaign", "list", "link id"])
def test_the_sentence_names_the_field(field: str) -> None:
    problem = campaign_name_problem("welcome-4155550132", field)
    assert problem is not None and problem.startswith(f"The {field} holds a run of 9")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "non-empty string"),
        (42, "non-empty string"),
        ("", "non-empty string"),
        ("x" * 129, "longer than 128 characters"),
        ("spring\n2026", "control characters"),
        ("spring\u200b2026", "invisible"),
        ("\uff53\uff50\uff52\uff49\uff4e\uff47", "compatibility"),
    ],
)
def test_names_that_are_not_plain_text_are_refused(value: Any, words: str) -> None:
    problem = campaign_name_problem(value)
    assert problem is not None and words in problem


def test_the_codec_and_the_mailer_use_the_rule() -> None:
    codec = TokenCodec([KEY])
    for name in ACCEPTED:
        token = codec.dump_click(name, name, name, "https://shop.example/", sent_at=SENT)
        loaded = codec.load_click(token, now=SENT.timestamp())
        assert (loaded.campaign, loaded.list, loaded.link) == (name, name, name)
    mailer = Mailer("https://t.example.com", [KEY])
    for name, _ in REFUSED:
        with pytest.raises(ValueError, match=r"^The campaign "):
            mailer.open_url(name, "news")


@pytest.mark.parametrize(
    ("piece", "readable"),
    [
        ("spring", True), ("DE", True), ("EarlyAccess", True), ("iPhone", True), ("été", True),
        ("2026", True), ("december2026", True), ("bf2026", True), ("BF2026", True),
        ("v2", True), ("q4", True), ("s10", True), ("mp3", True), ("2026q4", True),
        ("2026w49", True), ("1st", True), ("22nd", True), ("4k", True), ("10x", True),
        ("2fa", True), ("b2b", True), ("4x4", True),
        ("12345", False), ("v123", False), ("summer26", False), ("covid19", False),
        ("LinkedIn", True), ("nA", False), ("aBcD", False), ("aNvGpCai", False),
        ("U2XF", False), ("8f14e45f", False),
        ("abc123def", False), ("x7k2", False), ("", False), ("a-b", False),
    ],
)
def test_reads_as_word(piece: str, readable: bool) -> None:
    assert reads_as_word(piece) is readable


def _random_ids(rng: random.Random) -> dict[str, list[str]]:
    """Ids as token and id generators make them, 2,000 of each."""
    def pick(alphabet: str, length: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(length))

    lower, upper, digits = string.ascii_lowercase, string.ascii_uppercase, string.digits
    makers = {
        "urlsafe base64": lambda: base64.urlsafe_b64encode(rng.randbytes(16)).decode(),
        "hex digest": lambda: pick("0123456789abcdef", 32),
        "uuid": lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "base62": lambda: pick(lower + upper + digits, 20),
        "base36": lambda: pick(lower + digits, 16),
        "nanoid": lambda: pick(lower + upper + digits + "-_", 21),
        "ulid": lambda: pick("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 26),
        "stripe-like": lambda: "cus_" + pick(lower + upper + digits, 14),
        "licence key": lambda: "-".join(pick(upper + digits, 5) for _ in range(5)),
        "base32": lambda: base64.b32encode(rng.randbytes(10)).decode(),
        "signed": lambda: URLSafeTimedSerializer("k", signer=FixedTimeSigner).dumps(
            rng.getrandbits(64)),
    }
    return {name: [make() for _ in range(2_000)] for name, make in makers.items()}


def test_real_tokens_are_still_scrubbed_and_refused() -> None:
    """The readable shapes let no generated id through that mixes letters and digits:
    the scrubber stores each as a placeholder and the SDK refuses each. Only draws of
    letters alone pass, nearly all in one case (``FBJCVYMVTHUFZWTU``): nothing tells
    those from a word without a dictionary, and the scrubber never replaced them either."""
    for kind, ids in _random_ids(random.Random(2026)).items():
        mixed = [i for i in ids if any(c.isdigit() for c in i) and any(c.isalpha() for c in i)]
        kept = [i for i in mixed if scrub_text(i) == i]
        assert kept == [], kind
        accepted = [i for i in ids if campaign_name_problem(f"welcome-{i}") is None]
        assert not any(c.isdigit() for i in accepted for c in i), kind
        mixed_case = [i for i in accepted if not (i.isupper() or i.islower())]
        assert len(mixed_case) <= len(ids) // 200, (kind, mixed_case)  # 1 in 200 at most


def test_pseudonyms_are_almost_always_refused() -> None:
    accepted = [p for p in (pseudonym(f"account-{n}", "k" * 20) for n in range(5_000))
                if campaign_name_problem(f"welcome-{p}") is None]
    assert len(accepted) <= 50  # 1 in 100 at most; pseudonyms have no digits to find
