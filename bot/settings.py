"""Settings, read once from the environment and passed down explicitly."""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlparse

from bot.contacts import Contact, contact_problem
from bot.disclosure import Rules
from bot.later import DEFAULT_QUIET, QuietHours, QuietHoursError

DEFAULT_DB = "triage.db"
DEFAULT_API_URL = "https://api.telegram.org"
MIN_SECRET_LENGTH = 32
# Ten years: longer retention or idle periods are a typo (and overflow date arithmetic).
MAX_DAYS = 3650
# Telegram's rule for a webhook's secret token.
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# The setting for each of the programme's contact details (bot/contacts.py).
CONTACT_SETTINGS = {
    "email": "TRIAGE_CONTACT_EMAIL",
    "phone": "TRIAGE_CONTACT_PHONE",
    "website": "TRIAGE_CONTACT_WEBSITE",
    "hours": "TRIAGE_CONTACT_HOURS",
}


class SettingsError(ValueError):
    """A setting is missing or wrong; the message is one line naming it."""


def bundled_content_dir() -> Path:
    """Return the content folder shipped with the package (or the source checkout)."""
    here = Path(__file__).resolve().parent
    packaged = here / "_content"
    if (packaged / "flows").is_dir():
        return packaged
    return here.parent


@dataclass(frozen=True)
class Settings:
    """Every setting the bot and its tools use. Build it with :func:`load_settings`."""

    token: str | None = None
    api_url: str = DEFAULT_API_URL
    db_path: Path = Path(DEFAULT_DB)
    secret: str | None = None
    content_dir: Path = field(default_factory=bundled_content_dir)
    admins: frozenset[int] = frozenset()
    retention_days: int = 90
    idle_days: int = 30
    send_rate: float = 30.0
    chat_interval: float = 1.0
    log_level: str = "INFO"
    min_count: int = 10
    round_to: int = 5
    min_denominator: int = 10
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8080
    # ---- how people reach the programme (issue 8): unset values stay unset, never invented
    contact: Contact = field(default_factory=Contact)
    team_chat_id: int | None = None
    # ---- the web page (python -m bot web) ----
    web_url: str | None = None
    web_proxy: bool = False
    web_session_rate: int = 120
    web_address_rate: int = 6000
    # ---- operating it (issue 13): health thresholds and Prometheus metrics ----
    health_inbox_age: float = 60.0
    health_outbox_age: float = 300.0
    metrics_port: int | None = None
    metrics_listen: str = "127.0.0.1"
    # ---- coming back (issue 9): messages sent later, on Telegram only ----
    quiet_hours: QuietHours = field(default_factory=lambda: QuietHours.parse(DEFAULT_QUIET))
    follow_up_months: int = 3  # 0: the result does not offer a follow-up check

    def missing_contact_settings(self) -> list[str]:
        """Contact settings left unset, by name (the web page's start-up log: no team chat)."""
        return [CONTACT_SETTINGS[name] for name in self.contact.missing()]

    def missing_contacts(self) -> list[str]:
        """Contact settings (and the team chat) left unset, by name, for the start-up log."""
        missing = self.missing_contact_settings()
        return [*missing, *([] if self.team_chat_id else ["TRIAGE_TEAM_CHAT_ID"])]

    @property
    def web_https(self) -> bool:
        """Whether the web page is served to people over HTTPS (its public URL says so)."""
        return bool(self.web_url and self.web_url.startswith("https://"))

    @property
    def rules(self) -> Rules:
        """The disclosure thresholds every aggregate output applies."""
        return Rules(self.min_count, self.round_to, self.min_denominator)

    @property
    def base_url(self) -> str:
        """Bot API base URL in the form python-telegram-bot expects (token appended)."""
        return f"{self.api_url}/bot"

    def require_secret(self, needed_by: str = "the Telegram bot") -> str:
        """Return the pseudonymisation secret or fail with a one-line reason.

        ``needed_by`` names what is being started ("the web page"), for the message.
        """
        if not self.secret:
            raise SettingsError(
                f"TRIAGE_SECRET is not set: {needed_by} needs it to keep people's answers "
                "pseudonymous (make one with: "
                'python -c "import secrets; print(secrets.token_hex(32))")'
            )
        return self.secret

    def require_token(self) -> str:
        """Return the bot token or fail with a one-line reason."""
        if not self.token:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather, "
                "or use `python -m bot chat` to try the conversation in the terminal"
            )
        return self.token

    def require_webhook(self) -> tuple[str, str]:
        """Return the webhook's public URL and secret token, or fail with a one-line reason."""
        if not self.webhook_url:
            raise SettingsError(
                "TRIAGE_WEBHOOK_URL is not set: --webhook needs the public https:// address "
                "Telegram should send updates to"
            )
        if not self.webhook_secret:
            raise SettingsError(
                "TRIAGE_WEBHOOK_SECRET is not set: --webhook needs a secret token "
                "(16 to 256 letters, digits, _ or -) so only Telegram can post updates"
            )
        return self.webhook_url, self.webhook_secret

    def with_local_secret(self) -> Settings:
        """For the terminal chat: use TRIAGE_SECRET, or create and keep one beside the database."""
        if self.secret:
            return self
        path = self.db_path.with_name(self.db_path.name + ".secret")
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
        else:
            value = secrets.token_hex(32)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Only the owner may read it: with the database it would undo pseudonymisation.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value + "\n")
        if len(value) < MIN_SECRET_LENGTH:
            raise SettingsError(f"{path}: the stored secret is too short; delete the file")
        return replace(self, secret=value)


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={value} must be at most {maximum}")
    return value


def _float(
    env: Mapping[str, str], name: str, default: float, maximum: float | None = None
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} is not a number")
    if value < 0:
        raise SettingsError(f"{name}={raw} must not be negative")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={raw} must be at most {maximum:g}")
    return value


def _webhook(env: Mapping[str, str]) -> dict[str, object]:
    url = env.get("TRIAGE_WEBHOOK_URL", "").strip() or None
    if url is not None:
        parsed = urlparse(url)
        if parsed.scheme != "https" or not parsed.netloc or parsed.query or parsed.fragment:
            raise SettingsError(
                f"TRIAGE_WEBHOOK_URL={url!r} must be an https:// address "
                "(Telegram only sends webhooks over HTTPS)"
            )
    secret = env.get("TRIAGE_WEBHOOK_SECRET", "").strip() or None
    if secret is not None and not WEBHOOK_SECRET.match(secret):
        # Never echo the secret itself.
        raise SettingsError(
            "TRIAGE_WEBHOOK_SECRET must be 16 to 256 characters, each a letter, digit, _ or -"
        )
    listen = env.get("TRIAGE_WEBHOOK_LISTEN", "").strip() or "127.0.0.1"
    return {
        "webhook_url": url,
        "webhook_secret": secret,
        "webhook_listen": listen,
        "webhook_port": _int(env, "TRIAGE_WEBHOOK_PORT", 8080, 1, 65535),
    }


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings from the environment (``os.environ`` by default)."""
    env = os.environ if env is None else env

    token = env.get("TELEGRAM_BOT_TOKEN", "").strip() or None
    if token is not None and (":" not in token or any(c.isspace() for c in token)):
        # Never echo the token itself: it is a credential.
        raise SettingsError("TELEGRAM_BOT_TOKEN does not look like a bot token (id:secret)")

    api_url = env.get("TELEGRAM_API_URL", "").strip().rstrip("/") or DEFAULT_API_URL
    parsed = urlparse(api_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"TELEGRAM_API_URL={api_url!r} is not an http(s) URL")

    # Whether the file can be used is the store's to say (bot.store.StoreError), when a command
    # opens it: commands that need no database never fail over it.
    db_path = Path(env.get("TRIAGE_DB", "").strip() or DEFAULT_DB).expanduser()

    secret = env.get("TRIAGE_SECRET", "").strip() or None
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"TRIAGE_SECRET is too short ({len(secret)} characters; use at least "
            f"{MIN_SECRET_LENGTH}, for example 64 hex digits)"
        )

    content_raw = env.get("TRIAGE_CONTENT_DIR", "").strip()
    content_dir = Path(content_raw).expanduser() if content_raw else bundled_content_dir()
    if not (content_dir / "flows").is_dir():
        raise SettingsError(
            f"TRIAGE_CONTENT_DIR={content_dir} has no flows/ folder "
            "(it should hold flows/, templates/ and content/)"
        )

    admins: set[int] = set()
    for part in env.get("TRIAGE_ADMINS", "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            admins.add(int(part))
        except ValueError:
            raise SettingsError(
                "TRIAGE_ADMINS must be a comma-separated list of numeric Telegram user ids"
            ) from None

    level = env.get("TRIAGE_LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"TRIAGE_LOG_LEVEL={level!r} must be DEBUG, INFO, WARNING or ERROR")

    contact, team_chat_id = _contact_settings(env)

    web_url = env.get("TRIAGE_WEB_URL", "").strip().rstrip("/") or None
    if web_url is not None:
        parsed_web = urlparse(web_url)
        if parsed_web.scheme not in ("http", "https") or not parsed_web.netloc or parsed_web.path:
            raise SettingsError(
                f"TRIAGE_WEB_URL={web_url!r} must be the page's public address without a path, "
                "for example https://check.example.org"
            )
    proxy_raw = env.get("TRIAGE_WEB_PROXY", "").strip().lower()
    if proxy_raw not in ("", "0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"TRIAGE_WEB_PROXY={proxy_raw!r} must be 1 or 0")
    if proxy_raw in ("1", "true", "yes") and web_url is None:
        # Behind a proxy the page cannot tell its public address (and so the origin every
        # form must come from) from the request.
        raise SettingsError(
            "TRIAGE_WEB_PROXY=1 needs TRIAGE_WEB_URL, the public address the proxy serves"
        )

    return Settings(
        **_operations(env),  # type: ignore[arg-type]
        **_later(env),  # type: ignore[arg-type]
        contact=contact,
        team_chat_id=team_chat_id,
        web_url=web_url,
        web_proxy=proxy_raw in ("1", "true", "yes"),
        web_session_rate=_int(env, "TRIAGE_WEB_SESSION_RATE", 120, 10),
        web_address_rate=_int(env, "TRIAGE_WEB_ADDRESS_RATE", 6000, 10),
        token=token,
        api_url=api_url,
        db_path=db_path,
        secret=secret,
        content_dir=content_dir,
        admins=frozenset(admins),
        retention_days=_int(env, "TRIAGE_RETENTION_DAYS", 90, 1, MAX_DAYS),
        idle_days=_int(env, "TRIAGE_IDLE_DAYS", 30, 1, MAX_DAYS),
        send_rate=_float(env, "TRIAGE_SEND_RATE", 30.0, 1000.0),
        chat_interval=_float(env, "TRIAGE_CHAT_INTERVAL", 1.0, 60.0),
        log_level=level,
        min_count=_int(env, "TRIAGE_MIN_COUNT", 10, 1, 1000),
        round_to=_int(env, "TRIAGE_ROUND_TO", 5, 1, 1000),
        min_denominator=_int(env, "TRIAGE_MIN_DENOMINATOR", 10, 1, 100_000),
        **_webhook(env),  # type: ignore[arg-type]
    )


def _operations(env: Mapping[str, str]) -> dict[str, object]:
    """Health thresholds and the metrics port (off unless TRIAGE_METRICS_PORT is set)."""
    raw_port = env.get("TRIAGE_METRICS_PORT", "").strip()
    return {
        "health_inbox_age": _float(env, "TRIAGE_HEALTH_INBOX_AGE", 60.0, 86400.0),
        "health_outbox_age": _float(env, "TRIAGE_HEALTH_OUTBOX_AGE", 300.0, 86400.0),
        "metrics_port": _int(env, "TRIAGE_METRICS_PORT", 0, 1, 65535) if raw_port else None,
        "metrics_listen": env.get("TRIAGE_METRICS_LISTEN", "").strip() or "127.0.0.1",
    }


def _later(env: Mapping[str, str]) -> dict[str, object]:
    """Quiet hours (UK time) and the follow-up interval: when messages sent later may go."""
    raw = env.get("TRIAGE_QUIET_HOURS", "").strip() or DEFAULT_QUIET
    try:
        quiet = QuietHours.parse(raw)
    except QuietHoursError as exc:
        raise SettingsError(f"TRIAGE_QUIET_HOURS={raw!r} {exc}") from None
    return {
        "quiet_hours": quiet,
        "follow_up_months": _int(env, "TRIAGE_FOLLOWUP_MONTHS", 3, 0, 24),
    }


def _contact_settings(env: Mapping[str, str]) -> tuple[Contact, int | None]:
    """The programme's contacts and the team's Telegram chat, each optional."""
    values: dict[str, str | None] = {}
    for field_name, setting in CONTACT_SETTINGS.items():
        raw = " ".join(env.get(setting, "").split()) or None
        if raw is not None:
            problem = contact_problem(field_name, raw)
            if problem:
                raise SettingsError(f"{setting}={raw!r} {problem}")
        values[field_name] = raw
    raw_chat = env.get("TRIAGE_TEAM_CHAT_ID", "").strip()
    team_chat_id = None
    if raw_chat:
        try:
            team_chat_id = int(raw_chat)
        except ValueError:
            raise SettingsError(
                "TRIAGE_TEAM_CHAT_ID must be the numeric id of the team's Telegram chat "
                "(a group's id starts with -)"
            ) from None
        # Telegram's chat ids have at most 52 significant bits; 0 is no chat. (Never echoed.)
        if team_chat_id == 0 or abs(team_chat_id) >= 2**52:
            raise SettingsError(
                "TRIAGE_TEAM_CHAT_ID is out of range for a Telegram chat id "
                "(copy the team chat's id, for example from the bot's getUpdates)"
            )
    return Contact(**values), team_chat_id
