"""Button presses: the one table from a button's verb to its handler (:data:`PRESSES`).

Callback data is ``verb|step|arg``. ``step`` counts the conversation's moves; a press carrying
an old step is from an earlier message and only re-shows where the person is now. Each handler
lives with its feature and returns None when the press does not fit where the person is: the
current screen is then shown again, as for a verb not in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.conversation.engine.base import EngineBase
from bot.conversation.engine.coming_back import ComingBack
from bot.conversation.engine.events import Context, Conversation, Outcome
from bot.conversation.engine.handover import Handover
from bot.conversation.engine.privacy import Privacy
from bot.conversation.engine.result import Results
from bot.conversation.engine.walk import Walk

# A handler gets (engine, conversation, the question shown or None, the press's arg, context)
# and returns the outcome, or None if the press does not fit where the person is.
Handler = Callable[[Any, Conversation | None, Any, str, Context], Outcome | None]

# Every button's verb and what handles it: the only place a press is dispatched.
PRESSES: dict[str, Handler] = {
    "go": Walk._on_go,
    "pv": Privacy._on_privacy,
    "ct": Walk._on_continue,
    "ag": Walk._on_again,
    "a": Walk._on_answer,
    "t": Walk._on_toggle,
    "d": Walk._on_done,
    "s": Walk._on_skip,
    "b": Walk._on_back,
    "c": Walk._on_change,
    "ok": Walk._on_confirm,
    "rs": Results._on_results,
    "nt": Walk._on_again,
    "nn": Walk._on_not_now,
    "sec": Results._on_section,
    "pl": Results._on_plan,
    "ho": Handover._on_handover,
    "hs": Handover._on_handover_send,
    "hx": Handover._on_handover_cancel,
    "rm": ComingBack._on_stop_reminders,
    "fw": ComingBack._on_follow_up,
    "fx": ComingBack._on_follow_up_off,
    "fg": Privacy._on_forget,
    "fk": Privacy._on_keep,
}

# The verbs that also work before anything is stored (the welcome's buttons, and /forget's
# question asked of someone with nothing stored): their handlers then get None, and a press
# they do not take, like any other verb, says the conversation has expired.
BEFORE_START = frozenset({"go", "pv", "nn", "fg", "fk"})


class Presses(EngineBase):
    """Dispatching a button press to its feature's handler."""

    def _press(self, conv: Conversation | None, data: str, ctx: Context) -> Outcome:
        verb, _, rest = data.partition("|")
        step_text, _, arg = rest.partition("|")
        try:
            step = int(step_text)
        except ValueError:
            return self._stale(conv, self.notices.unknown)

        if conv is None:
            # Nothing is stored until the person taps Start.
            first = PRESSES[verb](self, None, None, arg, ctx) if verb in BEFORE_START else None
            return first if first is not None else self._stale(None, self.notices.expired)

        if step != conv.step:
            return self._stale(conv, self.notices.stale)
        handler = PRESSES.get(verb)
        if handler is None:
            return self._stale(conv, self.notices.unknown)
        outcome = handler(self, conv, self._question(conv), arg, ctx)
        return outcome if outcome is not None else self._stale(conv, self.notices.unknown)
