"""Pseudonyms, reference codes and scrubbing: how identifiers are kept out of the store."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping

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


def scrub(text: str, marks: Mapping[str, str]) -> str:
    """Replace contact details with ``marks`` (keys: email, link, handle, phone, postcode)."""
    text = _EMAIL.sub(marks["email"], text)
    text = _URL.sub(marks["link"], text)
    text = _HANDLE.sub(marks["handle"], text)
    text = _PHONE.sub(lambda m: _phone_or_keep(m, marks["phone"]), text)
    return _POSTCODE.sub(marks["postcode"], text)


def _phone_or_keep(match: re.Match[str], mark: str) -> str:
    digits = re.sub(r"\D", "", match.group())
    # Years, sums of money and counts are short; phone numbers have 9 to 15 digits.
    return mark if 9 <= len(digits) <= 15 else match.group()


def new_link_id() -> str:
    """A random id joining a check to the follow-up check the person asked for (issue 9).

    It is stored on both responses, never with anything about the person.
    """
    return secrets.token_urlsafe(12)
