"""How long do people wait for their next question when many answer at once?

A hundred people tap an answer at the same moment; every Bot API call takes 50 ms (as a
distant Telegram might). The figure that matters is each person's wait, from their tap to the
next question arriving. For comparison the same run is repeated with updates handled one at a
time, as a stock sequential bot would.

    python -m bench.concurrency [--people 100] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402

from bot.content import load_content  # noqa: E402
from tests.fake_telegram import FakeTelegram, Person  # noqa: E402
from tests.telegram_harness import RunningBot  # noqa: E402


async def scenario(
    people: int, latency: float, sequential: bool, send_rate: float = 0.0
) -> dict[str, float]:
    content = load_content(ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        telegram = FakeTelegram(latency=0)
        bot = await RunningBot(
            telegram, Path(tmp) / "bench.db", content, send_rate=send_rate
        ).start()
        if sequential:
            lock = asyncio.Lock()
            handle = bot.adapter.handle

            async def one_at_a_time(update: Update) -> None:
                async with lock:
                    await handle(update)

            bot.poller.handle = one_at_a_time
        crowd = [
            Person(user_id=10_000 + i, first_name=f"P{i}", username=f"p{i}") for i in range(people)
        ]
        for person in crowd:
            telegram.send_text(person, "/start")
        await bot.settle(60)
        for person in crowd:
            telegram.tap(person, "Start")
        await bot.settle(60)

        telegram.latency = latency
        tapped: dict[int, float] = {}
        before = max(telegram.shown)
        start = time.monotonic()
        for person in crowd:
            telegram.tap(person, "A Public Service Mutual")
            tapped[person.chat_id] = time.monotonic()
        await bot.settle(120)
        total = time.monotonic() - start
        waits = []
        for person in crowd:
            arrived = [
                telegram.sent_at[m.message_id]
                for m in telegram.messages(person)
                if m.message_id > before and "What is your role?" in m.text
            ]
            waits.append(arrived[0] - tapped[person.chat_id])
        await bot.close()
    waits.sort()
    return {
        "median": statistics.median(waits),
        "p95": waits[int(len(waits) * 0.95) - 1],
        "max": waits[-1],
        "updates_per_s": people / total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    print(
        f"{args.people} people answer at once; each Bot API call takes {args.latency * 1000:.0f} ms"
    )
    print(f"{'handling':<38}{'median wait':>12}{'p95':>10}{'max':>10}{'updates/s':>12}")
    runs = (
        ("this bot (default settings)", False, 0.0),
        ("this bot, TRIAGE_SEND_RATE=30", False, 30.0),
        ("one update at a time (stock style)", True, 0.0),
    )
    for label, sequential, rate in runs:
        r = asyncio.run(scenario(args.people, args.latency, sequential, rate))
        print(
            f"{label:<38}{r['median']:>11.3f}s{r['p95']:>9.3f}s{r['max']:>9.3f}s"
            f"{r['updates_per_s']:>12.1f}"
        )


if __name__ == "__main__":
    main()
