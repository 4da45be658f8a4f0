"""The running bot's footprint: resident memory at rest and after a crowd, and time to start.

Each bot process runs ``python -m bot run`` against the fake Bot API (``bench.fake_api``) in
its own process, with a new database. Measured for each:

- start: from starting the process to its first ``getUpdates`` reaching the fake;
- at rest: resident memory (VmRSS) a few seconds after that first poll, with nobody talking;
- after a crowd: resident memory once ``--people`` people (default 1,000) have each sent /start
  and tapped ``--taps`` times (about a whole walk) and the bot has gone quiet again; the peak
  (VmHWM) too.

With ``--baseline DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/base main``)
the same measurements are made on that tree's bot, run with this interpreter, taking turns
round by round so a busy spell on the shared machine hits both::

    python -m bench.footprint [--baseline /tmp/base] [--rounds 3] [--people 1000] [--taps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.transport import ROOT, TOKEN, Fake, load


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


def measure(fake: Fake, tree: Path, tmp: Path, people: int, taps: int, rest: float) -> dict:
    """Start one bot from ``tree``, and measure it at rest and after the crowd."""
    fake("reset")
    stamp = f"{tree.name}-{time.monotonic_ns()}"
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": fake.url,
        "TRIAGE_SECRET": "b" * 64,
        "TRIAGE_DB": str(tmp / f"{stamp}.db"),
        "TRIAGE_LOG_LEVEL": "WARNING",
        "TRIAGE_SEND_RATE": "0",
        "TRIAGE_CHAT_INTERVAL": "0",
    }
    with (tmp / f"{stamp}.log").open("wb") as log:
        began = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tree, env=env, stderr=log)
    try:
        while True:
            state = fake("state")
            if state["polls"] > 0:
                start = state["now"] - began
                break
            if proc.poll() is not None or time.monotonic() - began > 60:
                raise SystemExit(f"the bot in {tree} did not start: see {log.name}")
            time.sleep(0.005)
        time.sleep(rest)
        at_rest = status(proc.pid)["VmRSS"]
        fake("crowd", people=people, taps=taps)
        expected = people * (taps + 1)
        fake.wait(
            lambda s: s["answered"] >= expected and s["waiting"] == 0,
            600,
            "the crowd to finish",
        )
        time.sleep(rest)
        after = status(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "start": start,
        "rest": at_rest / 1024,
        "after": after["VmRSS"] / 1024,
        "peak": after["VmHWM"] / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--taps", type=int, default=20, help="taps per person after /start")
    parser.add_argument("--rest", type=float, default=3.0, help="seconds of quiet before reading")
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if args.baseline is not None:
        trees = {"baseline": args.baseline.resolve(), **trees}
    print(f"load before: {load()}")
    print(f"crowd: {args.people} people, /start then {args.taps} taps each, no send limits")
    results: dict[str, list[dict]] = {name: [] for name in trees}
    fake = Fake()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp_name:
            for r in range(args.rounds):
                order = list(trees) if r % 2 == 0 else list(reversed(trees))
                for name in order:
                    res = measure(
                        fake, trees[name], Path(tmp_name), args.people, args.taps, args.rest
                    )
                    results[name].append(res)
                    print(
                        f"round {r + 1} {name:<10} start {res['start']:5.2f}s  at rest "
                        f"{res['rest']:5.1f} MB  after the crowd {res['after']:5.1f} MB "
                        f"(peak {res['peak']:5.1f})   ({load()})",
                        flush=True,
                    )
    finally:
        fake.close()
    print()
    print("summary (medians over rounds; MB = MiB resident)")
    print(f"{'':26}" + "".join(f"{name:>12}" for name in trees))
    for label, key, fmt in (
        ("start to first getUpdates", "start", "{:11.2f}s"),
        ("memory at rest", "rest", "{:9.1f} MB"),
        ("memory after the crowd", "after", "{:9.1f} MB"),
        ("peak memory", "peak", "{:9.1f} MB"),
    ):
        row = [statistics.median(r[key] for r in results[name]) for name in trees]
        print(f"{label:26}" + "".join(fmt.format(v) for v in row))
    ours = results["this tree"]
    rest = statistics.median(r["rest"] for r in ours)
    start = statistics.median(r["start"] for r in ours)
    print()
    print("targets")
    print(f"  at rest <= 60 MB:   {rest:.1f} MB  {'met' if rest <= 60 else 'NOT met'}")
    print(f"  start < 1 s:        {start:.2f} s  {'met' if start < 1 else 'NOT met'}")
    print(f"load after: {load()}")


if __name__ == "__main__":
    main()
