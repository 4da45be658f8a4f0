"""The web page's guards: security headers, CSRF and origin checks, rate limits, error pages.

Nothing here stores or logs an IP address, a user agent or a session id: rate limits are
held in memory only, keyed by an HMAC of the address (or session) whose key changes daily.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

# The one inline script GOV.UK Frontend's page template has (it adds the js-enabled class),
# as published with govuk-frontend 6.x. Content-Security-Policy allows it and nothing else.
JS_ENABLED_SCRIPT = (
    "document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype "
    "? ' govuk-frontend-supported' : '');"
)
JS_ENABLED_HASH = "sha256-GUQ5ad8JK5KmEWmROf3LZd9ge94daqNvd8xy9YS1iDw="


def content_security_policy(style_hashes: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy; ``style_hashes`` allow exactly these inline stylesheets.

    Pages never need one. The plan file does: it is one self-contained page whose styles sit
    in a ``<style>`` element, and each such element is allowed by its own hash, never by
    'unsafe-inline'.
    """
    styles = " ".join(["'self'", *(f"'{h}'" for h in style_hashes)])
    return (
        "default-src 'self'; "
        f"script-src 'self' '{JS_ENABLED_HASH}'; "
        f"style-src {styles}; img-src 'self'; font-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


CSP = content_security_policy()
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    # "same-origin", not "no-referrer": with no-referrer, browsers send "Origin: null" on our
    # own forms, and the origin check needs the real one.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# A form with the longest free-text answer (3,000 characters of 4-byte text) fits easily.
MAX_BODY = 64 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def csrf_token(secret: str, session_id: str) -> str:
    """The CSRF token for a session: bound to it, and useless without the server's secret."""
    return hmac.new(secret.encode(), f"csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, session_id: str, token: str) -> bool:
    """Whether a posted token belongs to this session (compared in constant time)."""
    return hmac.compare_digest(csrf_token(secret, session_id).encode(), token.encode())


def same_origin(request: web.Request, expected: str) -> bool:
    """The browser's own word on where a POST came from: Sec-Fetch-Site, then Origin.

    Old browsers send neither; the CSRF token still protects them.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    return origin is None or origin == expected


@dataclass
class _Bucket:
    tokens: float
    last: float


@dataclass
class RateLimiter:
    """Token buckets in memory, keyed by a daily-rotated HMAC of what they limit."""

    secret: str
    per_minute: int
    clock: Callable[[], float] = time.monotonic
    today: Callable[[], dt.date] = dt.date.today
    max_keys: int = 200_000
    _day: dt.date | None = None
    _key: bytes = b""
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _hashed(self, value: str) -> str:
        day = self.today()
        if day != self._day:
            # A new day: a new key, and yesterday's buckets (and keys) are gone.
            self._day = day
            self._key = hmac.new(
                self.secret.encode(), f"rate:{day.isoformat()}".encode(), hashlib.sha256
            ).digest()
            self._buckets.clear()
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:32]

    def retry_after(self, value: str) -> float | None:
        """Take one request; None if allowed, else the seconds until the next is."""
        key = self._hashed(value)
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now, rate)
            bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.last) * rate)
        bucket.last = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / rate

    def _prune(self, now: float, rate: float) -> None:
        # Buckets that have refilled are the same as no bucket at all.
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.last) * rate >= self.per_minute
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


def client_address(request: web.Request, behind_proxy: bool) -> str:
    """The address to rate-limit: the proxy's last hop if we trust one, else the peer."""
    if behind_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or ""
