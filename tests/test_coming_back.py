"""Coming back (issue 9): one reminder, a follow-up check, and the pairs they make.

The Telegram tests run the real transport (inbox, worker, outbox, sender) against the fake
Bot API, with a clock the test moves: the service times messages by it and the sender looks
for due ones by it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from bot.channels.service import Triage
from bot.conversation.content import Content
from bot.conversation.engine import Command, Engine, Later
from bot.disclosure import Rules
from bot.later import QuietHours, QuietHoursError, add_months, follow_up_at, reminder_at
from bot.settings import SettingsError, load_settings
from bot.store import Store
from bot.team.analytics import Analysis, load_pairs

from .fake_telegram import FakeTelegram, Person
from .telegram_harness import RunningBot

UTC = dt.UTC
KIRI = Person(user_id=550011, first_name="Kiri", username="kiri_k")
SAM = Person(user_id=550022, first_name="Sam", username="sam_s")
# Up to question 6 (annual turnover) on a Mutual's path.
TO_QUESTION_6 = ["Start", "A Public Service Mutual", "Leadership", "Health", "London", "51 to 250"]
# The rest of a Mutual's check from question 6, then Confirm (ticks then Done, as labels).
REST = [
    "£5m to £20m",
    "Over 5, up to 10 years",
    "3",
    "Informal",
    "Done",
    "4",
    "Yes, definitely",
    "Bid for larger",
    "Done",
    "Legal arrangements are complex",
    "Not enough time",
    "Done",
    "Legal arrangements are complex",
    "Commercial advice",
    "Legal advice",
    "Done",
    "due within a month",
    "Yes",  # the reserved contract's tests (issue 17)
    "Yes",
    "Yes",
    "No",
    "Skip",
    "Confirm",
]


class ManualClock:
    """A clock that moves only when the test moves it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# ---- when: quiet hours in UK time, calendar months -----------------------------------------------


def test_quiet_hours_are_uk_time_and_push_to_the_morning() -> None:
    quiet = QuietHours.parse("21:00-08:00")
    # Winter (GMT): 07:59 UTC is quiet, 08:00 is not.
    assert quiet.quiet(dt.datetime(2026, 11, 26, 7, 59, tzinfo=UTC))
    assert not quiet.quiet(dt.datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    # Summer (BST): 07:30 UTC is 08:30 in the UK, allowed; 20:30 UTC is 21:30, quiet.
    assert not quiet.quiet(dt.datetime(2027, 7, 1, 7, 30, tzinfo=UTC))
    assert quiet.quiet(dt.datetime(2027, 7, 1, 20, 30, tzinfo=UTC))
    # A reminder two days after someone stopped at 01:10 comes at 08:00 that morning...
    stopped = dt.datetime(2026, 11, 24, 1, 10, tzinfo=UTC)
    assert reminder_at(stopped, 2, quiet) == dt.datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    # ...one due at 22:30 the next morning, and across the spring change at 08:00 BST.
    late = dt.datetime(2026, 11, 24, 22, 30, tzinfo=UTC)
    assert reminder_at(late, 2, quiet) == dt.datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    spring = dt.datetime(2027, 3, 26, 1, 30, tzinfo=UTC)
    assert reminder_at(spring, 2, quiet) == dt.datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    # Daytime stays as it is; "off" never holds anything.
    noon = dt.datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert reminder_at(noon, 2, quiet) == noon + dt.timedelta(days=2)
    assert not QuietHours.parse("off").quiet(dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    # A span that does not cross midnight.
    early = QuietHours.parse("0-7")
    assert early.quiet(dt.datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    assert not early.quiet(dt.datetime(2026, 11, 26, 23, 0, tzinfo=UTC))


def test_follow_ups_come_calendar_months_later() -> None:
    quiet = QuietHours.parse("21:00-08:00")
    asked = dt.datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert add_months(asked, 3) == dt.datetime(2027, 2, 28, 10, 0, tzinfo=UTC)
    # Same UK time of day across the clocks changing (10:00 GMT, then 10:00 BST).
    assert add_months(dt.datetime(2027, 1, 15, 10, 0, tzinfo=UTC), 3) == dt.datetime(
        2027, 4, 15, 9, 0, tzinfo=UTC
    )
    night = dt.datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    assert follow_up_at(night, 3, quiet) == dt.datetime(2027, 2, 25, 8, 0, tzinfo=UTC)


def test_quiet_hours_and_interval_settings_are_checked_in_one_line() -> None:
    settings = load_settings({"TRIAGE_QUIET_HOURS": "22:30-07:15", "TRIAGE_FOLLOWUP_MONTHS": "6"})
    assert str(settings.quiet_hours) == "22:30-07:15" and settings.follow_up_months == 6
    assert load_settings({}).follow_up_months == 3
    assert str(load_settings({}).quiet_hours) == "21:00-08:00"
    for bad in ("9pm-8am", "25:00-08:00", "08:00-08:00"):
        with pytest.raises(SettingsError) as caught:
            load_settings({"TRIAGE_QUIET_HOURS": bad})
        assert "TRIAGE_QUIET_HOURS" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(SettingsError, match="TRIAGE_FOLLOWUP_MONTHS=25 must be at most 24"):
        load_settings({"TRIAGE_FOLLOWUP_MONTHS": "25"})
    with pytest.raises(QuietHoursError):
        QuietHours.parse("soon")


# ---- the Telegram bot with a clock the test moves -------------------------------------------


@pytest.fixture
def telegram() -> FakeTelegram:
    return FakeTelegram()


async def running(telegram, tmp_path: Path, content: Content, clock, **settings) -> RunningBot:
    return await RunningBot(
        telegram, tmp_path / "triage.db", content, clock=clock, **settings
    ).start()


async def tap(telegram: FakeTelegram, bot: RunningBot, person: Person, *labels: str) -> None:
    for label in labels:
        telegram.tap(person, label)
        await bot.settle()


async def say(telegram: FakeTelegram, bot: RunningBot, person: Person, text: str) -> None:
    telegram.send_text(person, text)
    await bot.settle()


async def at(bot: RunningBot, clock: ManualClock, moment: dt.datetime) -> None:
    """Move the clock, and let the bot look for messages that are due (as it does every 30 s)."""
    clock.now = moment
    await bot.sender.load_scheduled()
    await bot.settle()


def waiting(bot: RunningBot) -> list[tuple[str, dt.datetime]]:
    """Messages held for later: (purpose, when due)."""
    return [
        (purpose, dt.datetime.fromtimestamp(due, UTC))
        for purpose, due in bot.store.conn.execute(
            "SELECT purpose, not_before FROM outbox WHERE status = 'todo' AND not_before > 0 "
            "ORDER BY id"
        )
    ]


def reminders_seen(telegram: FakeTelegram, person: Person) -> list[str]:
    return [m.text for m in telegram.messages(person) if "check is waiting for you" in m.text]


async def test_the_reminder_comes_once_after_two_days_never_at_night_and_carry_on_resumes(
    telegram, tmp_path, content
) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 1, 10, tzinfo=UTC))  # 01:10 in the UK
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6)
        question_6 = telegram.latest(KIRI)
        assert "Question 6 of" in question_6.text and "turnover" in question_6.text
        morning = dt.datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
        assert waiting(bot) == [("reminder", morning)]  # not 01:10: pushed to the morning
        for moment in (
            dt.datetime(2026, 11, 26, 1, 10, tzinfo=UTC),
            morning.replace(minute=59, hour=7),
        ):
            await at(bot, clock, moment)
            assert reminders_seen(telegram, KIRI) == []
        await at(bot, clock, morning)
        (reminder,) = reminders_seen(telegram, KIRI)
        assert "question 6 of 21 (Annual turnover)" in reminder
        assert telegram.latest(KIRI).labels() == [
            "▶️ Carry on where I left off",
            "🔕 Stop reminders",
        ]
        await at(bot, clock, morning + dt.timedelta(hours=1))  # nothing more, however often
        assert len(reminders_seen(telegram, KIRI)) == 1 and waiting(bot) == []
        await tap(telegram, bot, KIRI, "Carry on")
        assert telegram.latest(KIRI).text == question_6.text  # exactly where they stopped
        assert telegram.latest(KIRI).labels() == question_6.labels()
        # They stop again: no second reminder for this check, ever.
        assert waiting(bot) == []
        await tap(telegram, bot, KIRI, "£5m to £20m")
        await at(bot, clock, morning + dt.timedelta(days=10))
        assert len(reminders_seen(telegram, KIRI)) == 1 and waiting(bot) == []
        counts = bot.store.later_counts()
        assert counts["reminders_sent"] == 1 and counts["reminders_waiting"] == 0
    finally:
        await bot.close()


async def test_a_reminder_due_while_the_bot_was_down_waits_for_the_morning(
    telegram, tmp_path, content
) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 20, 30, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, "Start")
        assert waiting(bot) == [("reminder", dt.datetime(2026, 11, 26, 20, 30, tzinfo=UTC))]
        # Found at 23:00 (the bot was down at 20:30): it waits for 08:00, then goes.
        await at(bot, clock, dt.datetime(2026, 11, 26, 23, 0, tzinfo=UTC))
        assert reminders_seen(telegram, KIRI) == []
        assert waiting(bot) == [("reminder", dt.datetime(2026, 11, 27, 8, 0, tzinfo=UTC))]
        await at(bot, clock, dt.datetime(2026, 11, 27, 8, 0, 30, tzinfo=UTC))
        assert len(reminders_seen(telegram, KIRI)) == 1
        assert "question 1 of" in reminders_seen(telegram, KIRI)[0]
    finally:
        await bot.close()


async def test_coming_back_before_the_reminder_cancels_it(telegram, tmp_path, content) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6)
        first_due = dt.datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
        assert waiting(bot) == [("reminder", first_due)]
        # Not a backlog for monitoring until it is due (then its wait counts from then).
        assert bot.store.health(clock.now.timestamp()).outbox_depth == 0
        late = bot.store.health(first_due.timestamp() + 60)
        assert late.outbox_depth == 1 and late.outbox_oldest_s == pytest.approx(60, abs=1)
        # A day later they write something (not even an answer): the timer starts again.
        clock.now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
        await say(telegram, bot, KIRI, "hello?")
        assert waiting(bot) == [("reminder", dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC))]
        await at(bot, clock, first_due + dt.timedelta(minutes=1))
        assert reminders_seen(telegram, KIRI) == []
        # /cancel: the check and its reminder are gone.
        await say(telegram, bot, KIRI, "/cancel")
        assert waiting(bot) == []
        await at(bot, clock, dt.datetime(2026, 12, 10, 10, 0, tzinfo=UTC))
        assert reminders_seen(telegram, KIRI) == []
        # Finishing leaves no reminder either.
        await say(telegram, bot, SAM, "/start")
        await tap(telegram, bot, SAM, *TO_QUESTION_6, *REST)
        assert "Your next steps" in telegram.latest(SAM).text and waiting(bot) == []
    finally:
        await bot.close()


async def test_stop_reminders_and_an_old_reminders_buttons(telegram, tmp_path, content) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        for person in (KIRI, SAM):
            await say(telegram, bot, person, "/start")
            await tap(telegram, bot, person, *TO_QUESTION_6[:3])
        await at(bot, clock, dt.datetime(2026, 11, 26, 10, 5, tzinfo=UTC))
        assert len(reminders_seen(telegram, KIRI)) == len(reminders_seen(telegram, SAM)) == 1
        # Kiri taps Stop reminders: it says so, and nothing more is ever scheduled.
        await tap(telegram, bot, KIRI, "Stop reminders")
        assert "No more reminders" in telegram.latest(KIRI).text
        assert bot.store.load(_subject(KIRI)).reminded
        # Sam answers first, then taps the reminder's old button: like any old button.
        reminder = telegram.latest_with_buttons(SAM).message_id
        question = [m for m in telegram.messages(SAM) if "service area" in m.text][-1]
        telegram.tap(SAM, "Health", question.message_id)
        await bot.settle()
        before = len(telegram.messages(SAM))
        telegram.tap(SAM, "Stop reminders", reminder)
        await bot.settle()
        assert "Where in England" in telegram.latest(SAM).text  # re-shown where Sam is now
        assert len(telegram.messages(SAM)) == before + 1
        notes = [p.get("text") for m, p in telegram.calls if m == "answerCallbackQuery"]
        assert content.ui.notices.stale in notes
        assert bot.store.load(_subject(SAM)).reminded  # it went: there is no second
        assert waiting(bot) == []
    finally:
        await bot.close()


def _subject(person: Person) -> str:
    from bot.privacy import pseudonym

    from .telegram_harness import SECRET

    return pseudonym(SECRET, person.user_id)


async def test_the_follow_up_links_the_two_checks_and_the_report_pairs_them(
    telegram, tmp_path, content
) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6, *REST)
        result = telegram.latest_with_buttons(KIRI)
        assert "🔔 Remind me in 3 months to check again" in result.labels()
        await tap(telegram, bot, KIRI, "Remind me in 3 months")
        assert "Around 24 February 2027" in telegram.latest(KIRI).text
        due = dt.datetime(2027, 2, 24, 10, 0, tzinfo=UTC)
        assert waiting(bot) == [("follow_up", due)]
        (first,) = bot.store.conn.execute("SELECT code, followup_link FROM responses").fetchall()
        assert first["followup_link"]
        await at(bot, clock, due - dt.timedelta(minutes=1))
        assert "Time to check again" not in telegram.latest(KIRI).text
        await at(bot, clock, due)
        note = telegram.latest(KIRI)
        assert "On 24 November 2026 you finished" in note.text and note.labels() == [
            "🔁 Check again"
        ]
        # The follow-up check: last time's answers are ticked, so mostly one tap each.
        check_again = note.button("Check again")["callback_data"]
        telegram.tap(KIRI, "Check again")
        await bot.settle()
        taps = 1
        while "Please check your answers" not in telegram.latest(KIRI).text:
            shown = telegram.latest_with_buttons(KIRI)
            ticked = [label for label in shown.labels() if label.startswith("✅")]
            if "Done ✔️" in shown.labels():
                assert "Your answers last time are ticked" in shown.text
                label = "Done"
            elif ticked:
                assert "last time" in shown.text
                label = ticked[0]
            else:
                label = "Skip"  # typed text is never kept for this
            if "turnover" in shown.text:
                label = "Over £20m"  # something did change
            await tap(telegram, bot, KIRI, label)
            taps += 1
        await tap(telegram, bot, KIRI, "Confirm")
        assert (
            taps + 1 <= 24
        )  # 21 questions (4 of them the reserved contract tests), about one tap each
        rows = bot.store.conn.execute(
            "SELECT code, followup_link, follows_link FROM responses ORDER BY id"
        ).fetchall()
        assert len(rows) == 2 and rows[1]["follows_link"] == rows[0]["followup_link"]
        assert rows[1]["code"] != rows[0]["code"]
        # Linked by the random id only: nothing about the person stays for the pair.
        assert bot.store.conn.execute("SELECT count(*) FROM follow_ups").fetchone()[0] == 0
        (pair,) = load_pairs(bot.store)
        assert pair.first.answers["turnover"] == ["t5_20m"]
        assert pair.then.answers["turnover"] == ["over_20m"]
        tables = {t.id: t for t in Analysis(content, Rules(0, 1, 1)).tables(bot.store, [], None)}
        stage = tables["progress_stage"]
        assert [row[0].count for row in stage.cells] == [1, 0, 0]  # more turnover: moved up
        # With the real rule, one pair is hidden like any count under ten.
        protected = Analysis(content, Rules()).tables(bot.store, [], None)
        progress = [t for t in protected if t.id.startswith("progress_")]
        assert len(progress) == 3
        assert all(c.count is None for t in progress for row in t.cells for c in row)
        # Check again after it is done (a double tap, say): it has ended, like an old button.
        telegram.press_data(KIRI, note.message_id, check_again)
        await bot.settle()
        notes = [p.get("text") for m, p in telegram.calls if m == "answerCallbackQuery"]
        assert content.ui.notices.follow_up_gone in notes
        assert bot.store.db["responses"].count == 2
    finally:
        await bot.close()


async def test_forget_cancels_the_reminder_and_the_follow_up(telegram, tmp_path, content) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6, *REST)
        await tap(telegram, bot, KIRI, "Remind me in 3 months", "Start a new check")
        await tap(telegram, bot, KIRI, "A Public Service Mutual")
        assert sorted(p for p, _ in waiting(bot)) == ["follow_up", "reminder"]
        assert bot.store.conn.execute("SELECT count(*) FROM follow_ups").fetchone()[0] == 1
        await say(telegram, bot, KIRI, "/forget")
        await tap(telegram, bot, KIRI, "Delete")  # /forget asks first
        assert waiting(bot) == []
        store = bot.store
        assert store.conn.execute("SELECT count(*) FROM follow_ups").fetchone()[0] == 0
        assert store.db["responses"].count == 0  # still theirs: deleted with the link
        await at(bot, clock, dt.datetime(2027, 3, 1, 10, 0, tzinfo=UTC))
        assert not any("Time to check again" in m.text for m in telegram.messages(KIRI))
        assert reminders_seen(telegram, KIRI) == []
    finally:
        await bot.close()


async def test_forget_after_the_owner_link_is_purged_still_removes_the_follow_up_link(
    telegram, tmp_path, content
) -> None:
    """After the retention period only the follow-up ties the person to their results."""
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock, retention_days=30)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6, *REST)
        await tap(telegram, bot, KIRI, "Remind me in 3 months")
        bot.store.purge(clock.now + dt.timedelta(days=40), idle_days=60, retention_days=30)
        assert bot.store.db["response_owners"].count == 0
        await at(bot, clock, dt.datetime(2027, 2, 24, 10, 0, tzinfo=UTC))
        assert "Time to check again" in telegram.latest(KIRI).text
        await say(telegram, bot, KIRI, "/forget")
        await tap(telegram, bot, KIRI, "Delete")  # /forget asks first
        (row,) = bot.store.conn.execute("SELECT followup_link, follows_link FROM responses")
        assert tuple(row) == (None, None)  # unlinked again: nothing leads back to them
        await tap(telegram, bot, KIRI, "Check again")  # the old button no longer works
        assert bot.store.db["responses"].count == 1
        assert bot.store.load(_subject(KIRI)) is None
    finally:
        await bot.close()


async def test_declining_the_follow_up_keeps_nothing_more(telegram, tmp_path, content) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6, *REST)
        # Ignoring the offer stores nothing.
        assert waiting(bot) == []
        assert bot.store.conn.execute("SELECT followup_link FROM responses").fetchone()[0] is None
        await tap(telegram, bot, KIRI, "Remind me in 3 months", "Don't remind me")
        assert "We will not remind you" in telegram.latest(KIRI).text
        assert waiting(bot) == []
        assert bot.store.conn.execute("SELECT followup_link FROM responses").fetchone()[0] is None
        assert bot.store.conn.execute("SELECT count(*) FROM follow_ups").fetchone()[0] == 0
        # The result offers it again.
        result = [m for m in telegram.messages(KIRI) if "Your next steps" in m.text][-1]
        assert "🔔 Remind me in 3 months to check again" in result.labels()
    finally:
        await bot.close()


async def test_a_person_who_blocked_the_bot_gets_nothing_later_and_no_alarm(
    telegram, tmp_path, content, caplog, safe_logging
) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6, *REST)
        await tap(telegram, bot, KIRI, "Remind me in 3 months", "Start a new check")
        telegram.blocked.add(KIRI.chat_id)
        caplog.set_level(logging.INFO)
        await at(bot, clock, dt.datetime(2026, 11, 26, 10, 1, tzinfo=UTC))
        assert bot.sender.stats.dropped == 1
        # The 403 ended the reminder quietly, and the follow-up and its link with it.
        assert waiting(bot) == []
        assert bot.store.conn.execute("SELECT followup_link FROM responses").fetchone()[0] is None
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    finally:
        await bot.close()


async def test_check_again_while_another_check_is_part_way_asks_first(
    telegram, tmp_path, content
) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    bot = await running(telegram, tmp_path, content, clock)
    try:
        await say(telegram, bot, KIRI, "/start")
        await tap(telegram, bot, KIRI, *TO_QUESTION_6, *REST)
        await tap(telegram, bot, KIRI, "Remind me in 3 months")
        await at(bot, clock, dt.datetime(2027, 2, 24, 10, 0, tzinfo=UTC))
        note = telegram.latest(KIRI).message_id
        await say(telegram, bot, KIRI, "/restart")
        await tap(telegram, bot, KIRI, "A Public Service Mutual")
        telegram.tap(KIRI, "Check again", note)
        await bot.settle()
        ask = telegram.latest(KIRI)
        assert "Welcome back" in ask.text
        assert ask.labels() == ["▶️ Carry on where I left off", "🔁 Check again"]
        await tap(telegram, bot, KIRI, "Check again")
        conv = bot.store.load(_subject(KIRI))
        assert conv.link is not None and conv.defaults and conv.state == "org_type"
        assert telegram.latest(KIRI).labels()[0] == "✅ A Public Service Mutual"
        # /restart keeps it the follow-up check, last time's answers still ticked.
        await say(telegram, bot, KIRI, "/restart")
        assert bot.store.load(_subject(KIRI)).link == conv.link
    finally:
        await bot.close()


# ---- only Telegram reaches people later ----------------------------------------------------------


def test_the_terminal_and_the_web_page_never_schedule_anything(tmp_path, content: Content) -> None:
    from bot.cli import make_triage
    from bot.settings import Settings

    from .conftest import MUTUAL_ANSWERS, Walker, answer_all

    settings = Settings(db_path=tmp_path / "t.db")
    store = Store(settings.db_path)
    try:
        triage = make_triage(settings, content, store)  # as `chat` and `web` build it
        assert not triage.engine.reminders and triage.engine.follow_up_months == 0
        walker = Walker(triage)
        walker.command("start")
        walker.tap("Start")
        answer_all(walker, MUTUAL_ANSWERS[:5])
        assert all(not o.later for o in walker.outcomes)
        answer_all(walker, MUTUAL_ANSWERS[5:])
        walker.tap("Confirm")
        assert not any("Remind me" in b.label for b in walker.buttons())
        assert store.db["outbox"].count == 0
        privacy = walker.command("privacy").replies[0].text
        assert "One reminder" not in privacy and "Checking again later" not in privacy
        # Even an engine that could remind: this path drops what it would send later.
        reminding = Triage(store, Engine(content, reminders=True))
        outcome = reminding.handle("b" * 64, Command("restart"))
        assert outcome.later == [] and store.db["outbox"].count == 0
    finally:
        store.close()


def test_the_telegram_privacy_notice_says_what_is_kept_for_coming_back(content) -> None:
    from bot.conversation.engine import Context

    engine = Engine(content, reminders=True, follow_up_months=3)
    ctx = Context(dt.datetime(2026, 11, 24, tzinfo=UTC), lambda: "MPSP-2222-2222", lambda: "r")
    text = engine.handle(None, Command("privacy"), ctx).replies[0].text
    assert "one reminder 2 days later, never at night" in text
    assert "for 3 months, because you asked" in text
    assert "/forget deletes the reminder and the link" in text


def test_one_reminder_and_one_follow_up_wait_per_person(store: Store) -> None:
    """A second reminder for one person takes the first one's place; the index forbids two."""
    import sqlite3

    from bot.store import Outgoing

    now = dt.datetime(2026, 11, 24, tzinfo=UTC)

    def add(purpose: str, subject: str = "a" * 64, text: str = "") -> int:
        row = Outgoing("lane", "sendMessage", {"text": text}, b"x", subject, purpose, 1e10)
        with store.transaction():
            (added,) = store.outbox_add([row], now)
        return added.id

    first = add("reminder", text="first")
    add("follow_up")
    add("reminder", "b" * 64)
    assert add("reminder", text="second") == first  # in place
    params = store.conn.execute(
        "SELECT params FROM outbox WHERE subject = ? AND purpose = 'reminder'", ("a" * 64,)
    ).fetchall()
    assert [p[0] for p in params] == ['{"text":"second"}']
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.conn.execute(
            "INSERT INTO outbox (lane, subject, purpose, method, params, created) "
            "VALUES ('lane', ?, 'reminder', 'sendMessage', '{}', 'now')",
            ("a" * 64,),
        )
    add("reply")
    add("reply")  # replies are not limited
    assert store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 5


def test_later_items_say_what_never_when(content) -> None:
    from bot.conversation.engine import Context, Press

    engine = Engine(content, reminders=True)
    ctx = Context(dt.datetime(2026, 11, 24, tzinfo=UTC), lambda: "MPSP-2222-2222", lambda: "r")
    started = engine.handle(None, Press("go|0"), ctx)
    (later,) = started.later
    assert isinstance(later, Later) and later.kind == "reminder" and later.at is None
    assert "question 1 of" in later.reply.text
