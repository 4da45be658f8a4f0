"""Pseudonyms, reference codes and scrubbing: how identifiers are kept out of the store."""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from importlib import resources

# No 0/O, 1/I/L or U/V: a code read aloud over the phone should survive.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
CODE_RE = re.compile(rf"^MPSP-[{CODE_ALPHABET}]{{4}}-[{CODE_ALPHABET}]{{4}}$")


def pseudonym(secret: str, user_id: int | str) -> str:
    """HMAC-SHA256 of a Telegram user id: the only key under which a person's data is kept."""
    return hmac.new(secret.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()


def new_reference_code() -> str:
    """A random reference code such as ``MPSP-7KQ3-X9TD`` (about 39 bits)."""
    pick = [secrets.choice(CODE_ALPHABET) for _ in range(8)]
    return f"MPSP-{''.join(pick[:4])}-{''.join(pick[4:])}"


def normalise_code(text: str) -> str | None:
    """Accept a code typed loosely (lower case, spaces, missing dashes); None if not a code."""
    raw = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    raw = raw.removeprefix("MPSP")
    if len(raw) != 8:
        return None
    code = f"MPSP-{raw[:4]}-{raw[4:]}"
    return code if CODE_RE.match(code) else None


def new_run_id() -> str:
    """A random id for one run through the conversation (for drop-off counts only)."""
    return secrets.token_hex(8)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}\b")
# UK and international numbers: 9+ digits allowing spaces, dots, dashes and brackets.
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\(?\d[\d\s().-]{7,}\d(?![\w])")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
# A street address: "14 High Street", "Flat 2, 10 Church Street", "Unit 3, Riverside Business
# Park". No small library finds UK street addresses without a postcode (postcodes are removed
# on their own), so this is a pattern: a number, up to three capitalised words, a street word.
_STREET_WORDS = (
    "Street|St|Road|Rd|Lane|Avenue|Ave|Close|Drive|Way|Place|Crescent|Terrace|Gardens|"
    "Court|Grove|Hill|Square|Row|Walk|Mews|Parade|Park|Green|Rise|Wharf|Yard|Estate"
)
_ADDRESS = re.compile(
    r"\b(?:(?:Flat|Unit|Suite|Apartment|Room|Floor)\s+\d{1,4}[A-Za-z]?,?\s+(?:\d{1,4}[A-Za-z]?,?\s+)?"
    r"|\d{1,4}[A-Za-z]?,?\s+)"
    rf"(?:[A-Z][\w'’-]*\s+){{0,3}}(?:{_STREET_WORDS})\b"
)
# Names: a title and the words after it ("Mrs Patel", "Dr Sarah Mitchell", "Mrs J Patel"), or
# a known first name followed by a known surname ("Jane Smith"). The lists are the US Census
# Bureau's 1990 name files (public domain; 5,163 first names, 88,799 surnames), as the `names`
# package (MIT) ships them; that package has no wheel, which the image needs, so the lists
# are kept here, gzipped (bot/data/README.md). No library made for finding names fits the
# image (issue 18): bench/scrub_names.py prints what this catches.
NAMES_FILE = "data/names.txt.gz"
_TITLES = "Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Cllr|Councillor|Sir|Dame|Rev|Revd|Lord|Lady"
_WORD = r"[A-Z][a-zA-Z'’-]+"
_TITLED = re.compile(rf"\b(?:{_TITLES})\.?(?:\s+(?:[A-Z]\.?(?=\s)|{_WORD})){{1,3}}")
# Each capitalised word with the next one (a lookahead, so "Ring Andrew Hall" tries both pairs).
_PAIR = re.compile(rf"\b({_WORD})(?=\s+({_WORD}))")


def scrub(text: str, marks: Mapping[str, str]) -> str:
    """Replace personal details with ``marks``.

    Keys: email, link, handle, phone, address, postcode and name. Contact details go first, so
    that a name inside an email address is removed with the address.
    """
    text = _EMAIL.sub(marks["email"], text)
    text = _URL.sub(marks["link"], text)
    text = _HANDLE.sub(marks["handle"], text)
    text = _PHONE.sub(lambda m: _phone_or_keep(m, marks["phone"]), text)
    text = _ADDRESS.sub(marks["address"], text)
    text = _POSTCODE.sub(marks["postcode"], text)
    return scrub_names(text, marks["name"])


def scrub_names(text: str, mark: str) -> str:
    """Replace people's names (with any title) by ``mark``; organisations and places stay."""
    text = _TITLED.sub(mark, text)
    first, last = _names()
    spans: list[tuple[int, int]] = []
    for m in _PAIR.finditer(text):
        if _key(m[1]) in first and f"\n{_key(m[2])}\n".encode() in last:
            if spans and m.start() <= spans[-1][1]:
                spans[-1] = (spans[-1][0], m.end(2))  # "Mary Anne Smith"
            else:
                spans.append((m.start(), m.end(2)))
    for start, end in reversed(spans):
        text = text[:start] + mark + text[end:]
    return text


def _key(word: str) -> str:
    # The lists spell O'Brien as OBRIEN.
    return word.replace("'", "").replace("’", "").upper()


@functools.cache
def _names() -> tuple[frozenset[str], bytes]:
    """First names (a set) and surnames, read once, the first time typed text is scrubbed.

    The 88,799 surnames stay one block of bytes (under 1 MB; a set of them would take 14 MB
    of the bot's memory) and are looked up only after a known first name.
    """
    data = gzip.decompress(resources.files(__package__).joinpath(NAMES_FILE).read_bytes())
    first, _, last = data.removeprefix(b"# first\n").partition(b"# last\n")
    return frozenset(first.decode("ascii").split()), b"\n" + last


def _phone_or_keep(match: re.Match[str], mark: str) -> str:
    digits = re.sub(r"\D", "", match.group())
    # Years, sums of money and counts are short; phone numbers have 9 to 15 digits.
    return mark if 9 <= len(digits) <= 15 else match.group()


def new_link_id() -> str:
    """A random id joining a check to the follow-up check the person asked for (issue 9).

    It is stored on both responses, never with anything about the person.
    """
    return secrets.token_urlsafe(12)
