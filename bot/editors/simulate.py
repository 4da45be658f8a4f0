"""Walk the real engine through a set of answers, as a person would, without any store.

Used by ``content preview`` (to show exactly what a person sees) and ``content check``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from bot.conversation.conditions import Answer
from bot.conversation.content import Content
from bot.conversation.engine import (
    Command,
    Context,
    Conversation,
    Engine,
    Event,
    FollowUpStart,
    NotPrivate,
    Outcome,
    Press,
    Stats,
    Text,
    Unsupported,
)
from bot.conversation.flow import DONE, SUMMARY

PREVIEW_CODE = "MPSP-7KQ3-X9TD"
PREVIEW_LINK = "preview-link-0001"
PREVIEW_TIME = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Step:
    """One thing the person did, and what the bot did in reply."""

    action: str
    outcome: Outcome


class Session:
    """One simulated person talking to an engine."""

    def __init__(
        self, content: Content, code: str = PREVIEW_CODE, engine: Engine | None = None
    ) -> None:
        self.content = content
        self.engine = engine or Engine(content)
        self.ctx = Context(
            now=PREVIEW_TIME,
            new_code=lambda: code,
            new_run=lambda: "preview",
            new_link=lambda: PREVIEW_LINK,
        )
        self.conv: Conversation | None = None
        self.steps: list[Step] = []

    def do(self, action: str, event: Event) -> Outcome:
        """Send one event and remember the outcome."""
        outcome = self.engine.handle(self.conv, event, self.ctx)
        self.conv = outcome.conversation
        self.steps.append(Step(action, outcome))
        return outcome

    def press(self, action: str, verb: str, arg: str = "") -> Outcome:
        """Press a button of the current screen."""
        step = self.conv.step if self.conv is not None else 0
        return self.do(action, Press(f"{verb}|{step}|{arg}" if arg else f"{verb}|{step}"))

    def answer_all(self, answers: dict[str, Answer]) -> None:
        """Answer every question on the path, then stop at the summary."""
        flow = self.content.flow
        for _ in range(len(flow.questions) * 2):
            if self.conv is None or self.conv.state in (SUMMARY, DONE):
                return
            question = flow.by_id[self.conv.state]
            value = answers.get(question.id)
            if value is None:
                raise KeyError(question.id)
            if question.kind == "text":
                if value:
                    self.do(f"type: {value}", Text(str(value)))
                else:
                    self.press("tap Skip", "s")
            elif question.kind == "multi":
                codes = [value] if isinstance(value, str) else value
                # Only what differs from the ticks shown (a follow-up check shows last time's).
                ticked = list(self.conv.draft or ())
                for code in [c for c in ticked if c not in codes]:
                    (word,) = self.content.words(question, [code])
                    self.press(f"untick {word}", "t", code)
                for code in [c for c in codes if c not in ticked]:
                    (word,) = self.content.words(question, [code])
                    self.press(f"tick {word}", "t", code)
                self.press("tap Done", "d")
            else:
                (word,) = self.content.words(question, [str(value)])
                self.press(f"tap {word}", "a", str(value))
        raise RuntimeError("the flow did not reach the summary")


def walk(
    content: Content,
    answers: dict[str, Answer],
    code: str = PREVIEW_CODE,
    engine: Engine | None = None,
) -> list[Step]:
    """Start, answer everything, confirm: every message a person would see, in order."""
    session = Session(content, code, engine)
    session.do("send /start", Command("start"))
    session.press("tap Start", "go")
    session.answer_all(answers)
    session.press("tap Confirm", "ok")
    return session.steps


def tour(content: Content, answers: dict[str, Answer]) -> list[Step]:
    """Visit every other screen and message once: help, privacy, re-asks, resume, and so on."""
    s = Session(content)
    s.do("send /start", Command("start"))
    s.press("tap Privacy notice", "pv")
    s.press("tap Not now", "nn")
    s.do("send a photo", Unsupported("photo"))
    s.do("type on the welcome", Text("hello"))
    s.do("send /cancel with nothing started", Command("cancel"))
    s.do("write in a group", NotPrivate())
    s.press("tap Start", "go")
    s.press("tap Back", "b")  # back to the welcome, as a returning person
    s.press("tap Start", "go")
    s.do("type where a button is expected", Text("we are a mutual"))
    s.do("send a sticker", Unsupported("sticker"))
    s.do("send /nonsense", Command("nonsense"))
    s.do("send /help", Command("help"))
    s.do("send /privacy", Command("privacy"))
    s.do("press an old button", Press("a|0|x"))
    s.do("send /start part-way", Command("start"))
    s.press("tap Carry on", "ct")
    flow = content.flow
    # Up to the free-text question, where typed text is expected.
    text_questions = [q for q in flow.path(answers) if q.kind == "text"]
    if text_questions:
        before = {k: v for k, v in answers.items() if k != text_questions[0].id}
        with contextlib.suppress(KeyError):  # stops at the text question, as intended
            s.answer_all(before)
        s.do("type nothing", Text("   "))
        s.do("type too much", Text("x" * (text_questions[0].max_length + 1)))
        s.do("send a photo instead of text", Unsupported("photo"))
    s.answer_all(answers)
    s.press("tap Confirm", "ok")
    s.do("send /start when finished", Command("start"))
    s.press("tap Show my results again", "rs")
    s.do("send /cancel when finished", Command("cancel"))
    s.do("send /restart", Command("restart"))
    s.do("send /cancel", Command("cancel"))
    s.do("send /forget", Command("forget"))
    s.press("tap Keep", "fk")
    s.do("send /forget again", Command("forget"))
    s.press("tap Delete", "fg")
    s.do("send /stats (not an admin)", Command("stats"))
    suppressed = content.report.labels.suppressed
    s.do(
        "send /stats as an admin",
        Stats(
            {
                "finished": "1,235",
                "recent": suppressed,
                "started": "1,650",
                "completion_rate": 75,
                "needs": [{"label": "Commercial advice", "percent": 50}],
                "barriers": [{"label": "Legal arrangements are complex", "percent": 58}],
                "urgent": "120",
                "handovers": "15",
                "note": content.report.disclosure,
            }
        ),
    )
    return s.steps


def channel_tour(content: Content, engine: Engine) -> list[Step]:
    """The screens that differ by chat channel, as ``engine``'s channel shows them.

    The welcome, the privacy notice and /forget's question: the checker walks the terminal's.
    """
    s = Session(content, engine=engine)
    s.do("send /start", Command("start"))
    s.press("tap Privacy notice", "pv")
    s.press("tap Start", "go")
    s.do("send /privacy", Command("privacy"))
    s.do("send /forget", Command("forget"))
    s.press("tap Keep", "fk")
    return s.steps


def later_tour(content: Content, answers: dict[str, Answer], engine: Engine) -> list[Step]:
    """The screens of coming back (issue 9), with an engine that has reminders on.

    Stops part-way (the reminder, at a question and at the summary), taps Stop reminders,
    asks for the follow-up on the result and cancels it, then taps Check again: while
    another check is part-way, for real (the earlier answers ticked), and after it ended.
    """
    s = Session(content, engine=engine)
    s.do("send /start", Command("start"))
    s.press("tap Start", "go")
    s.press("tap Stop reminders", "rm")
    s.press("tap Carry on", "ct")
    s.answer_all(answers)
    s.do("send /help at the summary", Command("help"))
    s.press("tap Confirm", "ok")
    s.press("tap Remind me to check again", "fw")
    s.press("tap Remind me again", "fw")
    s.press("tap Don't remind me", "fx")
    s.press("tap Remind me to check again", "fw")
    earlier = {q: [v] if isinstance(v, str) else list(v) for q, v in answers.items()}
    s.press("tap Start a new check", "nt")
    s.do("tap Check again, part-way", FollowUpStart(PREVIEW_LINK, 0, earlier))
    step = s.conv.step if s.conv is not None else 0
    s.do("tap Check again, for real", FollowUpStart(PREVIEW_LINK, step, earlier))
    s.answer_all(answers)
    s.press("tap Confirm", "ok")
    s.do("tap Check again when it has ended", FollowUpStart(PREVIEW_LINK, 0, None))
    return s.steps
