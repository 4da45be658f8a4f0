"""When the bot may write to someone who has not just written to it (issue 9).

Two messages are ever sent that way, and only on Telegram (the web page and the terminal chat
cannot reach anyone later, so they never schedule either): one reminder for a check left
part-way, and the follow-up check a person asks for on their result. The engine decides
*what* (its outcome carries a :class:`bot.conversation.engine.Later`); the service and the
store decide *when*, from the settings and the clock, with the functions here:

- quiet hours in UK time (``Europe/London``, daylight saving included; the ``tzdata`` package
  supplies the zone where the system has none): a message falling due at night waits for the
  next allowed morning;
- :func:`add_months`: calendar months, the same time of day in the UK (22 November plus
  three months is 22 February; 30 November plus three is 28 February).

Pure functions of their arguments: no clock is read here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")
REMINDER = "reminder"
FOLLOW_UP = "follow_up"
# Outbox purposes of the messages sent later: one of each may wait per person.
LATER = (REMINDER, FOLLOW_UP)
DEFAULT_QUIET = "21:00-08:00"
_SPAN = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?$")


class QuietHoursError(ValueError):
    """A quiet-hours setting that cannot be read; the message says how to write one."""


@dataclass(frozen=True)
class QuietHours:
    """A daily span of UK time in which nothing is sent later; ``start`` None means none.

    The span may cross midnight (21:00-08:00, the default) or not (00:00-07:00).
    """

    start: dt.time | None
    end: dt.time | None

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Read "21:00-08:00" (or "21-8"); "off" means no quiet hours."""
        raw = text.strip().lower()
        if raw in ("off", "none"):
            return cls(None, None)
        match = _SPAN.match(raw)
        if match is None:
            raise QuietHoursError("must be a span of UK time such as 21:00-08:00 (or off for none)")
        h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise QuietHoursError("must use hours 0 to 23 and minutes 0 to 59, e.g. 21:00-08:00")
        start, end = dt.time(h1, m1), dt.time(h2, m2)
        if start == end:
            raise QuietHoursError("starts and ends at the same time (use off for none)")
        return cls(start, end)

    def quiet(self, moment: dt.datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls in the quiet hours, UK time."""
        if self.start is None or self.end is None:
            return False
        local = moment.astimezone(UK).time()
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` itself if it is not quiet, else the end of these quiet hours (in UTC)."""
        if not self.quiet(moment) or self.end is None:
            return moment.astimezone(dt.UTC)
        local = moment.astimezone(UK)
        day = local.date() if local.time() < self.end else local.date() + dt.timedelta(days=1)
        return dt.datetime.combine(day, self.end, tzinfo=UK).astimezone(dt.UTC)

    def __str__(self) -> str:
        if self.start is None or self.end is None:
            return "off"
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` plus calendar ``months``, at the same UK time of day (day clipped to fit)."""
    local = moment.astimezone(UK)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(dt.UTC)


def reminder_at(now: dt.datetime, after_days: int, quiet: QuietHours) -> dt.datetime:
    """When a reminder for a check last touched at ``now`` goes: after the delay, by day."""
    return quiet.next_allowed(now + dt.timedelta(days=after_days))


def follow_up_at(now: dt.datetime, months: int, quiet: QuietHours) -> dt.datetime:
    """When a follow-up asked for at ``now`` goes: after ``months``, by day."""
    return quiet.next_allowed(add_months(now, months))
