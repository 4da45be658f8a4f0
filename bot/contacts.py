"""How people reach the programme: deployment settings, never content.

The programme's email, phone, website and opening hours are set where the bot is deployed
(``TRIAGE_CONTACT_*``). Any of them may be unset: templates then use plain wording and the
person's reference code, so nothing made up is ever shown. The programme's *name* is wording,
so it comes from ``content/programme.yaml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

# Values that are placeholders, not real contacts: refused as settings.
_PLACEHOLDER = re.compile(
    r"example\.(?:org|com|net)|\b0{3,4}[\s-]?0{3,4}\b|\bxxx|\bchangeme\b|\btodo\b", re.I
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[\d\s()-]{6,20}$")


@dataclass(frozen=True)
class Contact:
    """What templates get as ``contact``: the programme's name and how to reach it.

    ``name`` is content; the rest are deployment settings and may each be None.
    """

    name: str = ""
    email: str | None = None
    phone: str | None = None
    website: str | None = None
    hours: str | None = None

    @property
    def reachable(self) -> bool:
        """True if at least one way to reach the team (email, phone or website) is set."""
        return bool(self.email or self.phone or self.website)

    def missing(self) -> list[str]:
        """The contact fields not set (email, phone, website, hours)."""
        return [f.name for f in fields(self) if f.name != "name" and not getattr(self, f.name)]


def placeholder(value: str) -> bool:
    """True for values that look made up (example.org addresses, 0000 numbers...)."""
    return bool(_PLACEHOLDER.search(value))


def contact_problem(field: str, value: str) -> str | None:
    """Why a contact setting's value is unusable, or None if it is fine."""
    if placeholder(value):
        return "looks like a placeholder, not a real contact"
    if field == "email" and not _EMAIL.match(value):
        return "is not an email address"
    if field == "phone" and not _PHONE.match(value):
        return "is not a phone number (digits, spaces, brackets, + and - only)"
    if field == "website" and not re.match(r"^https?://[^\s/]+\.[^\s]+$", value):
        return "is not a web address starting with https://"
    if len(value) > 120:
        return "is too long (120 characters at most)"
    return None
