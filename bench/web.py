"""How fast is the web page when 200 people answer at once?

Each simulated person has their own cookie and walks the whole check over real loopback
HTTP: every answer is a form POST, committed (SQLite, synchronous=FULL) before the 303
redirect, then a GET of the next page. The floor is a bare aiohttp handler that answers the
same POSTs with the same redirects and renders the same question pages for the same walk
(worked out once at start-up), with no engine and no store. Both run in their own process,
side by side in one run; the figures are answers per second, the server's CPU time per
answer and the time from a POST to the next page (p50, p99), first with everyone answering
flat out (capacity), then with people pausing between answers (waiting time).

    python -m bench.web [--people 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web_harness import ANSWERS  # noqa: E402

_FIELD = re.compile(r'name="(csrf|step)" value="([^"]*)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the floor: the same template, the same HTTP pattern, no engine, no store ---------------


def floor_main(port: int) -> None:
    """The same pages for the same walk, with the same POST-redirect-GET, and nothing else."""
    from aiohttp import web

    from bot.channels.web.pages import load_pages
    from bot.conversation.content import load_content
    from bot.conversation.engine import Engine, Submit
    from bot.editors.simulate import Session

    content = load_content(ROOT)
    engine = Engine(content)
    pages = load_pages(content)
    # Each question's screen on the walk the crowd takes, worked out once at start-up.
    session = Session(content, engine=engine)
    session.press("start", "go")
    screens = {}
    following = {}
    for question, codes in ANSWERS:
        screen = engine.screen(session.conv)
        screens[question] = screen
        session.do(question, Submit(screen.step, question, tuple(codes)))
        following[question] = session.conv.state if session.conv else "org_type"
    common = {"title": "", "csrf": "0" * 64, "has_session": True, "moved": False, "static": ""}
    last = pages.question(screens[ANSWERS[-1][0]], common)

    async def page(request: web.Request) -> web.Response:
        screen = screens.get(request.match_info["q"])
        body = pages.question(screen, common) if screen else last
        return web.Response(text=body, content_type="text/html")

    async def post(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(
            status=303, headers={"Location": f"/question/{following[request.match_info['q']]}"}
        )

    gc.collect()
    gc.freeze()  # as python -m bot web does
    app = web.Application()
    app.router.add_get("/question/{q}", page)
    app.router.add_post("/question/{q}", post)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# ---- the crowd ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


async def person(
    http: object,
    floor: bool,
    waits: list[float],
    think: tuple[float, float],
    rng: random.Random,
    ready: asyncio.Barrier,
) -> int:
    """One person's walk; their cookie is kept by hand (one shared client for the crowd)."""
    headers: dict[str, str] = {}
    answered = 0

    async def call(method: str, url: str, data: object = None) -> tuple[int, str]:
        async with http.request(method, url, data=data, headers=headers) as response:  # type: ignore[attr-defined]
            for resp in (*response.history, response):
                morsel = resp.cookies.get("triage")
                if morsel is not None and morsel.value:
                    headers["Cookie"] = f"triage={morsel.value}"
            return response.status, await response.text()

    if floor:
        _, page = await call("GET", "/question/org_type")
        fields = {"csrf": "x", "step": "2"}
    else:
        _, page = await call("GET", "/")
        fields = dict(_FIELD.findall(page))
        _, page = await call("POST", "/start", fields)
        fields = dict(_FIELD.findall(page))
    await ready.wait()  # everyone has started: now all answer at once
    for question, codes in ANSWERS:
        if think[1]:
            await asyncio.sleep(rng.uniform(*think))
        data = [*fields.items(), ("action", "answer"), *(("answer", c) for c in codes)]
        sent = time.perf_counter()
        status, page = await call("POST", f"/question/{question}", data)
        waits.append(time.perf_counter() - sent)
        if status != 200:
            raise SystemExit(f"answer refused: {status}")
        answered += 1
        if not floor:
            fields = dict(_FIELD.findall(page))
    return answered


async def crowd(
    base: str, people: int, floor: bool, think: tuple[float, float]
) -> tuple[int, float, list[float]]:
    import aiohttp

    waits: list[float] = []
    rng = random.Random(12)
    connector = aiohttp.TCPConnector(limit=0)
    ready = asyncio.Barrier(people + 1)
    async with aiohttp.ClientSession(
        base, connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        walks = asyncio.gather(
            *(person(http, floor, waits, think, rng, ready) for _ in range(people))
        )
        await ready.wait()
        start = time.perf_counter()
        done = await walks
        seconds = time.perf_counter() - start
    return sum(done), seconds, waits


def run(kind: str, people: int, think: tuple[float, float]) -> dict[str, float]:
    """One crowd against one server; CPU is the server's, from its start to its last answer."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {
            **os.environ,
            "TRIAGE_DB": str(db),
            "TRIAGE_SECRET": "b" * 64,
            "TRIAGE_CONTENT_DIR": str(ROOT),
            "TRIAGE_LOG_LEVEL": "WARNING",
            # A crowd on one address going flat out is far beyond any office's rate.
            "TRIAGE_WEB_SESSION_RATE": "1000000",
            "TRIAGE_WEB_ADDRESS_RATE": "100000000",
        }
        if kind == "floor":
            args = [sys.executable, "-m", "bench.web", "--floor", str(port)]
        else:
            args = [sys.executable, "-m", "bot", "web", "--port", str(port)]
        proc = start_server(args, env, port)
        try:
            cpu_before = cpu_seconds(proc.pid)
            answers, seconds, waits = asyncio.run(crowd(base, people, kind == "floor", think))
            cpu = cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        stored = None
        if kind == "web":
            conn = sqlite3.connect(db)
            stored = conn.execute("SELECT count(*) FROM conversations").fetchone()[0]
            moved = conn.execute(
                "SELECT count(*) FROM conversations WHERE state = 'comments'"
            ).fetchone()[0]
            conn.close()
            if stored != people or moved != people:
                raise SystemExit(f"only {moved} of {people} people's answers were stored")
    waits.sort()
    return {
        "answers": answers,
        "rate": answers / seconds,
        "cpu_ms": 1000 * cpu / answers,
        "p50": 1000 * statistics.median(waits),
        "p99": 1000 * waits[int(len(waits) * 0.99) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--think", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"))
    parser.add_argument("--floor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor:
        floor_main(args.floor)
        return
    print(
        f"{args.people} people at once over loopback HTTP, {len(ANSWERS)} answers each; "
        f"load before: {os.getloadavg()[0]:.2f}"
    )
    labels = {"floor": "floor (bare aiohttp, same page)", "web": "python -m bot web"}
    phases = (
        ("flat out (no pause between answers): capacity", (0.0, 0.0)),
        (
            f"people pausing {args.think[0]:g}-{args.think[1]:g} s per answer: waiting time",
            tuple(args.think),
        ),
    )
    summary = {}
    for title, think in phases:
        print(f"\n{title}")
        print(f"{'server':<34}{'answers/s':>10}{'CPU/answer':>12}{'p50':>9}{'p99':>9}")
        results: dict[str, list[dict[str, float]]] = {"floor": [], "web": []}
        for _ in range(args.rounds):
            for kind in ("floor", "web"):
                r = run(kind, args.people, think)
                results[kind].append(r)
                print(
                    f"{labels[kind]:<34}{r['rate']:>10.0f}{r['cpu_ms']:>10.2f}ms"
                    f"{r['p50']:>7.0f}ms{r['p99']:>7.0f}ms"
                )
        summary[think] = results
    flat = summary[phases[0][1]]
    floor = statistics.median(r["rate"] for r in flat["floor"])
    web = statistics.median(r["rate"] for r in flat["web"])
    cpu = statistics.median(r["cpu_ms"] for r in flat["web"]) / statistics.median(
        r["cpu_ms"] for r in flat["floor"]
    )
    p99 = max(r["p99"] for r in summary[phases[1][1]]["web"])
    print(
        f"\nweb/floor answers per second, flat out: {web / floor:.2f} (target at least 0.33); "
        f"CPU per answer {cpu:.1f}x the floor's; worst web p99 with pauses {p99:.0f} ms "
        f"(target under 250 ms); every answer committed before its redirect "
        f"(checked in the database); load after: {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
