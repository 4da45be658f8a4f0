"""Sealed reply addresses: the one identifier the bot keeps, and only encrypted.

A reply that is committed but not yet delivered needs the chat it goes to. That chat id (and
anything else identifying a message must carry, such as the Telegram name a person agreed to
share with the programme team, see :class:`Who`) is kept sealed with AES-256-GCM, an
authenticated cipher from ``cryptography``, under a key derived from ``TRIAGE_SECRET`` by
HKDF-SHA256 with a fixed label. The store sees only the sealed bytes and deletes them once
the message is delivered or dropped.

The event an inbox row holds (what the person typed or tapped) is sealed the same way, from
the moment it is taken in until it is handled, so text typed into the chat (a phone number,
an email address) never reaches the disk in the clear, not even in the write-ahead log; the
engine removes such details before anything about the answer is kept.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The label ties the derived key to this one use: the same secret also keys pseudonyms.
KEY_LABEL = b"mpsp-triage/reply-address/v1"
VERSION = b"\x01"
# Associated data of a sealed event: it cannot be opened as an address, nor the reverse.
EVENT = b"event"
NONCE_BYTES = 12


class SealError(Exception):
    """Sealed bytes could not be opened: damaged, or sealed under another TRIAGE_SECRET."""


@dataclass(frozen=True)
class Who:
    """A person's Telegram name, username and user id, for the one post they agreed to name."""

    user_id: int
    name: str
    username: str | None = None


@dataclass(frozen=True)
class Address:
    """Where a message goes, plus Bot API parameters too identifying to keep in the clear.

    ``who`` travels only from a "send with my name" tap to the team post it names (never to
    Telegram as a parameter of its own).
    """

    chat_id: int
    params: dict[str, Any] = field(default_factory=dict)
    who: Who | None = None


class Sealer:
    """Seals and opens reply addresses with a key derived from TRIAGE_SECRET.

    >>> sealer = Sealer("k" * 64)
    >>> sealer.open(sealer.seal(Address(42))).chat_id
    42
    """

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=SHA256(), length=32, salt=None, info=KEY_LABEL).derive(secret.encode())
        self._aead = AESGCM(key)

    def seal(self, address: Address) -> bytes:
        """Encrypt an address (a fresh random nonce each time)."""
        payload: dict[str, Any] = {"c": address.chat_id}
        if address.params:
            payload["p"] = address.params
        if address.who is not None:
            who = address.who
            payload["w"] = {"i": who.user_id, "n": who.name, "u": who.username}
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return VERSION + nonce + self._aead.encrypt(nonce, plain, VERSION)

    def seal_text(self, text: str) -> bytes:
        """Encrypt an inbox event (a fresh random nonce each time)."""
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, text.encode(), VERSION + EVENT)

    def open_text(self, sealed: bytes | str) -> str:
        """Decrypt an inbox event; one taken in before events were sealed comes back as is.

        Raises :class:`SealError` if it is damaged or sealed under another key.
        """
        if isinstance(sealed, str):
            return sealed
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
            raise SealError("not a sealed event")
        nonce = sealed[1 : 1 + NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, sealed[1 + NONCE_BYTES :], VERSION + EVENT)
        except InvalidTag:
            raise SealError("sealed under another key, or damaged") from None
        return plain.decode()

    def open(self, sealed: bytes) -> Address:
        """Decrypt an address; raise :class:`SealError` if it is damaged or foreign."""
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != VERSION:
            raise SealError("not a sealed address")
        nonce = sealed[1 : 1 + NONCE_BYTES]
        try:
            plain = self._aead.decrypt(nonce, sealed[1 + NONCE_BYTES :], VERSION)
        except InvalidTag:
            raise SealError("sealed under another key, or damaged") from None
        payload = json.loads(plain)
        who = payload.get("w")
        return Address(
            int(payload["c"]),
            payload.get("p") or {},
            Who(int(who["i"]), str(who["n"]), who.get("u")) if who else None,
        )
