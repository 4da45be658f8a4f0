"""Duplicates after kill -9: the bot process is killed under load, again and again.

    python -m bench.kills [--kills 20] [--people 50] [--no-limits] [--seed 1]

A fake Bot API (``tests/fake_telegram.py`` over HTTP, in this process) holds a crowd of
people who tap as soon as their next question arrives (``bench.fake_api``'s crowd, except
that a repeated message is not tapped). The bot runs as ``python -m bot run``; 0.5-2.5 s
after it first asks for updates it is killed with SIGKILL and started again at once. At the
end it is stopped cleanly and the calls are read back: a message identical to the one sent
just before it to the same chat (text and buttons) was sent twice. Prints the duplicates, the
kills and duplicates per kill, messages sent, and the load (``uptime``).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fake_api import Crowd, labels  # noqa: E402
from tests.fake_server import FakeBotApiServer  # noqa: E402
from tests.fake_telegram import FakeTelegram, Shown  # noqa: E402


class SteadyCrowd(Crowd):
    """The crowd, except that a message identical to the one before it is not tapped.

    Tapping a duplicate would be a tap on an old screen, which the bot answers by showing the
    screen again: one duplicate would then be counted many times over.
    """

    def on_message(self, shown: Shown, new: bool) -> None:
        member = self.members.get(shown.chat_id)
        latest = member.latest if member is not None else None
        same = latest is not None and (latest.text, latest.keyboard) == (shown.text, shown.keyboard)
        if new and same:
            return
        super().on_message(shown, new)


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def duplicates(telegram: FakeTelegram) -> tuple[int, int]:
    """(messages sent twice in a row to one chat, messages sent) over the whole run.

    Read from the calls as made (an edit later changes what a chat shows).
    """
    last: dict[str, tuple[str, str]] = {}
    twice = sent = 0
    for method, params in telegram.calls:
        if method != "sendMessage":
            continue
        sent += 1
        chat = str(params.get("chat_id"))
        shown = (str(params.get("text")), str(params.get("reply_markup")))
        twice += last.get(chat) == shown
        last[chat] = shown
    return twice, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-limits", action="store_true", help="send limits off (a heavier load)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    server = FakeBotApiServer()
    words = labels()
    crowd = server.call(lambda: SteadyCrowd(server.telegram, words))
    server.call(lambda: crowd.add(9_100_000, args.people, None))
    with TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": "4242:kill-bench-token",
            "TELEGRAM_API_URL": server.api_url,
            "TRIAGE_SECRET": "k" * 64,
            "TRIAGE_DB": str(Path(tmp) / "triage.db"),
            "TRIAGE_LOG_LEVEL": "ERROR",
        }
        if args.no_limits:
            env.update(TRIAGE_SEND_RATE="0", TRIAGE_CHAT_INTERVAL="0")
        proc = start(env)
        server.call(crowd.start_all)
        began = time.monotonic()
        for _ in range(args.kills):
            polls = server.call(lambda: server.telegram.polls)
            while server.call(lambda: server.telegram.polls) == polls:
                time.sleep(0.02)  # running: it has asked for updates
            time.sleep(rng.uniform(0.5, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc = start(env)
        time.sleep(5)  # the last start sends what was left
        server.call(lambda: setattr(crowd, "running", False))
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        span = time.monotonic() - began
    twice, sent = server.call(lambda: duplicates(server.telegram))
    server.close()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(
        f"kills {args.kills}, people {args.people}, "
        f"limits {'off' if args.no_limits else 'default'}, {span:.0f}s: "
        f"{sent} messages, {twice} sent twice, {twice / args.kills:.2f} duplicates per kill"
    )
    print(f"load: {load}")


if __name__ == "__main__":
    main()
