"""This bot against a stock python-telegram-bot bot, each in its own process, over loopback HTTP.

A fake Bot API with a crowd of people runs in a third process (``bench.fake_api``). Each
scenario starts a fresh bot process (new database or pickle file), lets the crowd loose, and
measures on the fake's clock; the bot's CPU comes from /proc. The bots take turns, round by
round, so a busy spell on the (shared) machine hits both. Scenarios:

1. throughput: 1,000 people tap as fast as they get answers (closed loop), no flood limits
   in the fake and this bot's send limit off: updates a second, CPU per update;
2. latency: 200 people who are each looking at a question tap at the same moment while
   every Bot API answer takes 50 ms: how long until each sees their next question;
3. limits (this bot, default settings; the fake enforces 30 messages/s overall and one a
   second per chat, 429 beyond): a burst of 500 /start within one second, and a crowd of 200
   who each send /start and tap Start: time taken against the best those limits allow, 429s.

    python -m bench.transport [--quick] [--rounds 2] [--clients]

``--clients`` adds this bot with python-telegram-bot's httpx client to scenarios 1 and 2.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "4242:bench-token"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

BOTS = {
    "this bot": [sys.executable, "-m", "bot", "run"],
    "this bot, httpx": [sys.executable, "-m", "bench.bot_variant", "--client", "httpx"],
    "stock PTB": [sys.executable, "-m", "bench.stock_bot"],
}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load() -> str:
    """The machine's load averages, as `uptime` shows them."""
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


class Fake:
    """The fake Bot API process and its control calls."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_api"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "port":
            raise SystemExit("the fake Bot API did not start")
        self.url = f"http://127.0.0.1:{line[1]}"

    def __call__(self, verb: str, **args: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.url}/control/{verb}",
            data=json.dumps(args).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def wait(self, test: Any, timeout: float, what: str, **state_args: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self("state", **state_args)
            if test(state):
                return state
            time.sleep(0.05)
        raise SystemExit(f"timed out waiting for {what}: {self('state')}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class Bot:
    """One bot process."""

    kind: str
    fake: Fake
    tmp: Path
    limits: bool = False
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        stamp = f"{self.kind.replace(' ', '_').replace(',', '')}-{time.monotonic_ns()}"
        self.log = self.tmp / f"{stamp}.log"
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": self.fake.url,
            "TRIAGE_SECRET": "b" * 64,
            "TRIAGE_DB": str(self.tmp / f"{stamp}.db"),
            "TRIAGE_LOG_LEVEL": "WARNING",
            "STOCK_PICKLE": str(self.tmp / f"{stamp}.pickle"),
        }
        if not self.limits:
            env.update(TRIAGE_SEND_RATE="0", TRIAGE_CHAT_INTERVAL="0")
        polls = self.fake("state")["polls"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(BOTS[self.kind], cwd=ROOT, env=env, stderr=log)
        self.fake.wait(lambda s: s["polls"] > polls, 60, f"{self.kind} to start polling")
        time.sleep(0.3)

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def throughput(fake: Fake, tmp: Path, kind: str, people: int, warm: float, span: float) -> dict:
    fake("reset")
    bot = Bot(kind, fake, tmp)
    try:
        fake("crowd", people=people)
        time.sleep(warm)
        s0, c0 = fake("state"), bot.cpu()
        time.sleep(span)
        s1, c1 = fake("state"), bot.cpu()
        fake("stop")
    finally:
        bot.stop()
    updates = s1["answered"] - s0["answered"]
    return {
        "updates_per_s": updates / (s1["now"] - s0["now"]),
        "cpu_ms": (c1 - c0) / max(updates, 1) * 1000,
    }


def latency(fake: Fake, tmp: Path, kind: str, people: int, delay: float) -> dict:
    fake("reset")
    bot = Bot(kind, fake, tmp)
    try:
        fake("crowd", people=people, taps=1)  # /start, then Start: everyone at question 1
        fake.wait(
            lambda s: s["answered"] >= 2 * people and s["waiting"] == 0, 120, "the crowd to set up"
        )
        time.sleep(1.0)
        fake("set", latency=delay)
        fake("tap_all", taps=1)
        state = fake.wait(
            lambda s: len(s["latencies"]) >= people, 300, "every answer", latencies=True
        )
    finally:
        bot.stop()
    waits = sorted(state["latencies"])
    return {
        "p50": statistics.median(waits),
        "p99": waits[max(0, int(len(waits) * 0.99) - 1)],
        "max": waits[-1],
    }


def limited(fake: Fake, tmp: Path, people: int, taps: int, spread: float) -> dict:
    rate, per_chat = 30, 1.0
    fake("reset", limits=[rate, per_chat])
    bot = Bot("this bot", fake, tmp, limits=True)
    expected = people * (1 + 2 * taps)  # a welcome, then an edit and a question per tap
    try:
        fake("crowd", people=people, taps=taps, spread=spread)
        state = fake.wait(lambda s: s["messages"] >= expected, 300, "every message")
        time.sleep(1.5)
        state = fake("state")
    finally:
        bot.stop()
    elapsed = state["last_message"] - state["first_update"]
    # Message i can go no sooner than (i - 1) // rate seconds after the first; one chat's k
    # messages need k - 1 intervals.
    best = max((expected - 1) // rate, (1 + 2 * taps - 1) * per_chat)
    return {
        "messages": state["messages"],
        "elapsed": elapsed,
        "best": best,
        "ratio": elapsed / best,
        "too_many": state["too_many"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--clients", action="store_true", help="add this bot over httpx")
    parser.add_argument("--skip-limits", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    warm, span = (3.0, 6.0) if args.quick else (5.0, 15.0)
    kinds = ["this bot", "stock PTB"] + (["this bot, httpx"] if args.clients else [])
    print(f"load before: {load()}")
    fake = Fake()
    results: dict[str, dict[str, list[dict]]] = {k: {"tp": [], "lat": []} for k in kinds}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-transport-") as tmp_name:
            tmp = Path(tmp_name)
            for r in range(rounds):
                for kind in kinds if r % 2 == 0 else list(reversed(kinds)):
                    res = throughput(fake, tmp, kind, args.people, warm, span)
                    results[kind]["tp"].append(res)
                    print(
                        f"round {r + 1} throughput  {kind:<16} {res['updates_per_s']:8.1f} "
                        f"updates/s  {res['cpu_ms']:6.2f} ms CPU/update   ({load()})",
                        flush=True,
                    )
            for r in range(rounds):
                for kind in kinds if r % 2 == 0 else list(reversed(kinds)):
                    res = latency(fake, tmp, kind, 200, 0.05)
                    results[kind]["lat"].append(res)
                    print(
                        f"round {r + 1} latency     {kind:<16} p50 {res['p50']:6.3f}s  "
                        f"p99 {res['p99']:6.3f}s  max {res['max']:6.3f}s   ({load()})",
                        flush=True,
                    )
            limits = []
            if not args.skip_limits:
                for label, people, taps, spread in (
                    ("burst of 500 /start in 1 s", 500, 0, 1.0),
                    ("crowd of 200: /start, Start", 200, 1, 0.0),
                ):
                    res = limited(fake, tmp, people, taps, spread)
                    limits.append((label, res))
                    print(
                        f"limits      {label:<28} {res['messages']} messages in "
                        f"{res['elapsed']:5.1f}s (best {res['best']:.0f}s, x{res['ratio']:.3f}), "
                        f"{res['too_many']} 429s   ({load()})",
                        flush=True,
                    )
    finally:
        fake.close()
    report(results, limits, kinds)
    print(f"load after: {load()}")


def report(results: dict, limits: list, kinds: list[str]) -> None:
    def med(kind: str, part: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind][part])

    ours, stock = "this bot", "stock PTB"
    tp_ratio = med(ours, "tp", "updates_per_s") / med(stock, "tp", "updates_per_s")
    cpu = med(ours, "tp", "cpu_ms")
    p99 = med(ours, "lat", "p99")
    print()
    print("summary (medians over rounds)")
    print(f"{'':34}" + "".join(f"{k:>18}" for k in kinds))
    for label, part, key, fmt in (
        ("updates/s, 1,000 people", "tp", "updates_per_s", "{:18.1f}"),
        ("CPU ms per update", "tp", "cpu_ms", "{:18.2f}"),
        ("p50 wait, 200 at once, 50 ms API", "lat", "p50", "{:17.3f}s"),
        ("p99 wait, 200 at once, 50 ms API", "lat", "p99", "{:17.3f}s"),
    ):
        print(f"{label:34}" + "".join(fmt.format(med(k, part, key)) for k in kinds))
    print()
    print("targets")
    print(
        f"  updates/s >= 2x stock:        x{tp_ratio:.2f}  {'met' if tp_ratio >= 2 else 'NOT met'}"
    )
    print(f"  CPU per update <= 3 ms:       {cpu:.2f} ms  {'met' if cpu <= 3 else 'NOT met'}")
    print(f"  p99 wait < 1 s:               {p99:.3f} s  {'met' if p99 < 1 else 'NOT met'}")
    for label, res in limits:
        ok = res["too_many"] == 0 and res["ratio"] <= 1.15
        print(
            f"  {label}: {res['too_many']} 429s, x{res['ratio']:.3f} of best  "
            f"{'met' if ok else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
