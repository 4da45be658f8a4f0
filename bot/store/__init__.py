"""The triage database: the only code that writes SQL.

SQLite in WAL mode with ``synchronous=FULL``: a step is durable once :meth:`Store.transaction`
returns. The store never sees a Telegram id, chat id, name or username: conversations are
keyed by a pseudonym (HMAC of the user id) and completed responses by a random code. The one
exception is the chat a pending message goes to, which the store holds only sealed
(:mod:`bot.sealing`) and deletes once the message is delivered or dropped.

One module per family of tables, each a mixin on one shared connection (:mod:`.base`):
:mod:`.schema` (every migration, and how the file is opened), :mod:`.conversations`
(conversations, responses and their codes, forgetting and retention), :mod:`.inbox`,
:mod:`.outbox` (with the messages sent later), :mod:`.reads` (what health, metrics, review
and reports read, and the counters), :mod:`.errors` (what is wrong with the file, in one
line) and :mod:`.thread` (the one write thread). Import from here, not from the modules.

May import: the conversation core and the shared modules at the top of ``bot/``; never
``bot.ops``, a channel, a tool or the command line (they all call in here, not the other
way). tests/test_layers.py holds these rules.
"""

from __future__ import annotations

from bot.store.base import StoreBase
from bot.store.conversations import CodeTaken, Conversations
from bot.store.errors import (
    BUSY_TIMEOUT_MS,
    IMAGE_MARKER,
    StoreError,
    access_advice,
    check_database_path,
    describe,
    explain,
    in_container,
)
from bot.store.inbox import UPDATE_MEMORY, Inbox, InboxEntry, InboxItem
from bot.store.outbox import Outbox, Outgoing
from bot.store.reads import Health, Reads
from bot.store.schema import MIGRATIONS, _migration_channel, synthetic_file
from bot.store.thread import StoreThread


class Store(Conversations, Outbox, Inbox, Reads):
    """A connection to the triage database, with every table family. One thread at a time."""


__all__ = [
    "BUSY_TIMEOUT_MS",
    "IMAGE_MARKER",
    "MIGRATIONS",
    "UPDATE_MEMORY",
    "CodeTaken",
    "Health",
    "InboxEntry",
    "InboxItem",
    "Outgoing",
    "Store",
    "StoreBase",
    "StoreError",
    "StoreThread",
    "_migration_channel",
    "access_advice",
    "check_database_path",
    "describe",
    "explain",
    "in_container",
    "synthetic_file",
]
