"""Synthetic triage data drawn from the 2018 survey's proportions, for trying the review tools.

Proportions (from the research in ``shared/research``): just over half of Mutuals work in
health and social care; 34 of 54 had bid with partners, rising with turnover (all of the top
quartile, 38% of the bottom); legal complexity was the top barrier (59%); commercial and legal
support were the top needs, followed by risk/benefit analysis and financial modelling, with
about three needs each; 65% would definitely partner and 35% might; confidence to win alone
averaged 3.88 of 5 and past partnerships were rated 3.75 of 5.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from bot.conversation.conditions import Answer
from bot.conversation.content import Content
from bot.conversation.engine import Engine
from bot.conversation.flow import DONE, SUMMARY, Flow
from bot.later import FOLLOW_UP, REMINDER, add_months
from bot.privacy import new_link_id, new_reference_code
from bot.store import Store

Weights = dict[str, float]

ORG_TYPE: Weights = {"psm": 86, "spinout": 5, "vcse": 4, "commissioner": 3, "other": 2}
SERVICE: Weights = {
    "health": 30,
    "social_care": 22,
    "cyp": 12,
    "education": 8,
    "culture_leisure": 14,
    "other": 14,
}
REGION: Weights = {
    "north_east": 6,
    "north_west": 14,
    "yorkshire": 9,
    "east_midlands": 8,
    "west_midlands": 9,
    "east": 9,
    "london": 14,
    "south_east": 12,
    "south_west": 13,
    "several": 6,
}
ROLE: Weights = {
    "leadership": 40,
    "bids": 20,
    "finance": 10,
    "operations": 15,
    "frontline": 5,
    "board": 5,
    "other": 5,
}
STAFF: Weights = {"s1_10": 8, "s11_50": 20, "s51_250": 32, "s251_1000": 27, "s1000_plus": 13}
TURNOVER_BY_STAFF: dict[str, Weights] = {
    "s1_10": {"under_1m": 85, "t1_5m": 10, "undisclosed": 5},
    "s11_50": {"under_1m": 50, "t1_5m": 42, "undisclosed": 8},
    "s51_250": {"t1_5m": 45, "t5_20m": 45, "undisclosed": 10},
    "s251_1000": {"t5_20m": 60, "over_20m": 32, "undisclosed": 8},
    "s1000_plus": {"over_20m": 92, "undisclosed": 8},
}
# Share with any partnering experience, by turnover: 34 of 54 overall.
PARTNERED: dict[str, float] = {
    "under_1m": 0.38,
    "t1_5m": 0.55,
    "t5_20m": 0.75,
    "over_20m": 1.0,
    "undisclosed": 0.6,
}
YEARS: Weights = {"under_1": 5, "y1_3": 12, "y3_5": 18, "y5_10": 45, "over_10": 20}
CONFIDENCE: Weights = {"v1": 2, "v2": 5, "v3": 20, "v4": 48, "v5": 25}  # mean 3.89
SUCCESS: Weights = {"v1": 3, "v2": 10, "v3": 20, "v4": 42, "v5": 25}  # mean 3.76
APPETITE: Weights = {"definitely": 63, "might": 34, "not_now": 3}
EXPERIENCE: dict[str, float] = {
    "informal": 0.51,
    "sub_lead": 0.33,
    "sub_partner": 0.33,
    "jv_alliance": 0.12,
    "new_entity": 0.08,
    "la_direct": 0.2,
}
MOTIVATIONS: dict[str, float] = {
    "larger_contracts": 0.6,
    "integrated_services": 0.45,
    "back_office": 0.3,
    "capacity": 0.35,
    "new_income": 0.3,
    "new_places": 0.25,
    "learning": 0.4,
}
BARRIERS: dict[str, float] = {
    "legal_complexity": 0.59,
    "culture": 0.45,
    "capacity": 0.42,
    "legal_expertise": 0.3,
    "risk": 0.25,
    "cost": 0.25,
    "no_partners": 0.2,
    "timescales": 0.28,
    "procurement_rules": 0.3,
    "seed_funding": 0.15,
    "sharing_ideas": 0.15,
}
# Scaled so people pick about three each.
SUPPORT: dict[str, float] = {
    "commercial": 0.5,
    "legal": 0.48,
    "risk_benefit": 0.36,
    "financial_modelling": 0.34,
    "bid_writing": 0.2,
    "choosing_model": 0.2,
    "investment_case": 0.14,
    "workshops": 0.14,
    "influencing": 0.18,
    "social_value": 0.22,
    "peer_network": 0.18,
    "placements": 0.08,
}
LIVE_BID: Weights = {"within_month": 10, "one_to_three": 25, "none": 65}
# Who asks the team to contact them: no survey figure exists (the handover is new), so these
# are a guess, only to give the demo's handover table something to count.
HANDOVER: dict[str, float] = {"within_month": 0.5, "one_to_three": 0.15, "other": 0.05}
OTHER_PATHS: dict[str, tuple[str, Weights | dict[str, float]]] = {
    "spinout": ("spinout_stage", {"exploring": 40, "business_case": 40, "agreed": 20}),
    "commissioner": (
        "commissioner_interest",
        {
            "consortia": 0.5,
            "market_engagement": 0.4,
            "pilots": 0.4,
            "social_value": 0.3,
            "mutuals_exemption": 0.3,
            "direct_award": 0.1,
        },
    ),
    "vcse": ("vcse_interest", {"partner_with_mutual": 55, "learn": 30, "not_sure": 15}),
    "other": ("vcse_interest", {"partner_with_mutual": 30, "learn": 40, "not_sure": 30}),
}


def _pick(rng: random.Random, weights: Weights) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _tick(rng: random.Random, chances: dict[str, float]) -> list[str]:
    picked = [code for code, p in chances.items() if rng.random() < p]
    return picked or [max(chances, key=chances.__getitem__)]


def synthetic_answers(rng: random.Random) -> dict[str, Answer]:
    """One plausible set of answers."""
    org = _pick(rng, ORG_TYPE)
    answers: dict[str, Answer] = {"org_type": org}
    if org != "psm":
        qid, weights = OTHER_PATHS[org]
        multi = all(v <= 1 for v in weights.values())
        answers[qid] = _tick(rng, weights) if multi else _pick(rng, weights)
        answers["service"] = _pick(rng, SERVICE)
        answers["region"] = _pick(rng, REGION)
        answers["comments"] = ""
        return answers
    staff = _pick(rng, STAFF)
    turnover = _pick(rng, TURNOVER_BY_STAFF[staff])
    answers |= {
        "role": _pick(rng, ROLE),
        "service": _pick(rng, SERVICE),
        "region": _pick(rng, REGION),
        "staff": staff,
        "turnover": turnover,
        "years": _pick(rng, YEARS),
        "confidence": _pick(rng, CONFIDENCE),
    }
    if rng.random() < PARTNERED[turnover]:
        answers["experience"] = _tick(rng, EXPERIENCE)
        answers["success"] = _pick(rng, SUCCESS)
    else:
        answers["experience"] = ["none"]
    answers["appetite"] = _pick(rng, APPETITE)
    if answers["appetite"] != "not_now":
        answers["motivations"] = _tick(rng, MOTIVATIONS)
    if rng.random() < 0.03:
        answers["barriers"] = ["none"]
    else:
        barriers = _tick(rng, BARRIERS)
        answers["barriers"] = barriers
        if len(barriers) > 1:
            answers["top_barrier"] = rng.choices(barriers, weights=[BARRIERS[b] for b in barriers])[
                0
            ]
    answers["support"] = ["nothing"] if rng.random() < 0.05 else _tick(rng, SUPPORT)
    answers["live_bid"] = _pick(rng, LIVE_BID)
    answers |= _reserved_tests(answers)
    answers["comments"] = ""
    return answers


# The reserved contract's tests (issue 17): most who are asked are sure of the first three.
RESERVED_TESTS: dict[str, Weights] = {
    "rc_service": {"yes": 0.55, "no": 0.15, "not_sure": 0.30},
    "rc_control": {"yes": 0.75, "no": 0.10, "not_sure": 0.15},
    "rc_profits": {"yes": 0.80, "no": 0.05, "not_sure": 0.15},
    "rc_recent": {"yes": 0.10, "no": 0.70, "not_sure": 0.20},
}


def _reserved_tests(answers: dict[str, Answer]) -> dict[str, Answer]:
    """Answers to the reserved contract's tests, for a Mutual whose answers show an interest.

    Drawn from their own generator, seeded by the answers so far, so that adding these
    questions left every other synthetic answer as it was.
    """
    interested = (
        answers.get("live_bid") in ("within_month", "one_to_three")
        or "larger_contracts" in answers.get("motivations", [])
        or {"procurement_rules", "timescales"} & set(answers.get("barriers", []))
        or {"bid_writing", "influencing"} & set(answers.get("support", []))
    )
    if not interested:
        return {}
    rng = random.Random(repr(sorted(answers.items())))
    out: dict[str, Answer] = {}
    for qid, weights in RESERVED_TESTS.items():
        out[qid] = _pick(rng, weights)
        failed = "yes" if qid == "rc_recent" else "no"
        if out[qid] == failed:
            break  # a "no" ends the tests, as in flows/triage.yaml
    return out


def generate(
    store: Store,
    content: Content,
    n: int,
    seed: int = 2018,
    abandon_share: float = 0.25,
    today: dt.date | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Fill an empty database with ``n`` finished triages and some abandoned ones.

    Some of the ``n`` are follow-up checks of earlier ones (issue 9), linked as the bot
    links them; see :class:`_FollowUps`.
    """
    rng = random.Random(seed)
    # Handovers draw from their own generator, so the answers stay those of earlier versions.
    asks = random.Random(seed + 1)
    follow_ups = _FollowUps(store, content, random.Random(seed + 2))
    flow = content.flow
    engine = Engine(content)
    end = dt.datetime.combine(today or dt.date.today(), dt.time(17, 0), tzinfo=dt.UTC)
    codes: set[str] = set()
    made = 0
    batch = 250
    while made < n:
        with store.transaction():
            if not made:
                # The fence: the marker commits with the first made-up answers, so no
                # synthetic row ever sits in a database that does not say it is synthetic.
                store.mark_synthetic(dt.datetime.now(dt.UTC), seed)
            for _ in range(min(batch, n - made)):
                made += 1
                # More checks in recent months, as the programme becomes known.
                age = dt.timedelta(days=365 * (1 - rng.random() ** 0.7))
                completed = end - age - dt.timedelta(minutes=rng.randint(0, 600))
                started = completed - dt.timedelta(seconds=rng.randint(150, 900))
                answers = flow.final_answers(synthetic_answers(rng))
                code = new_reference_code()
                while code in codes:
                    code = new_reference_code()
                codes.add(code)
                run = f"demo{made:07d}"
                subject = f"demo-subject-{made}"
                # Some slots are a follow-up of an earlier check instead (their own draws).
                follow = follow_ups.take(made, end, subject)
                if follow is not None:
                    answers, started, completed, link = follow
                completion = engine.completion(
                    answers,
                    code=code,
                    run=run,
                    started=_iso(started),
                    completed=_iso(completed),
                    follows=link if follow is not None else None,
                )
                # Every fifth check came through the web page (no draw: the mix stays as it was).
                channel = "web" if made % 5 == 0 else "telegram"
                store.add_response(subject, completion, channel)
                follow_ups.offer(subject, code, answers, completion.readiness, completed, end)
                if asks.random() < HANDOVER.get(str(answers.get("live_bid")), HANDOVER["other"]):
                    store.record_handover(code, completed + dt.timedelta(minutes=2))
                for state in [*(q.id for q in flow.path(answers)), SUMMARY, DONE]:
                    store.reached(run, state, started)
                if rng.random() < abandon_share / (1 - abandon_share):
                    _abandoned(store, flow, rng, f"demo-gone{made:07d}", started)
                    follow_ups.abandoned += 1
        if progress:
            progress(made)
    follow_ups.finish(end)
    # Demo owner links are not real pseudonyms; drop them so the data looks purged.
    with store.transaction():
        store.conn.execute("DELETE FROM response_owners WHERE subject LIKE 'demo-subject-%'")
    return made


def _abandoned(
    store: Store, flow: Flow, rng: random.Random, run: str, started: dt.datetime
) -> None:
    path = [q.id for q in flow.path(flow.final_answers(synthetic_answers(rng)))]
    # People leave more often early on and at the long multi-select questions.
    weights = [
        3 if i < 2 else 2 if flow.by_id[q].kind == "multi" else 1 for i, q in enumerate(path)
    ]
    stop = rng.choices(range(len(path)), weights=weights)[0]
    for state in path[: stop + 1]:
        store.reached(run, state, started)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


# ---- follow-up checks (issue 9) ------------------------------------------------------------------
# No survey measured change over time: these shares are a guess, only to give the report's
# progress section and review's counts something to show. They draw from their own generator,
# so every other demo answer stays as before.

FOLLOW_UP_EVERY = 8  # every eighth check is a follow-up, where an earlier one is old enough
OPT_IN = 0.2  # of recent Mutuals' checks, asking for a follow-up still to come
REMINDED = 0.6  # of unfinished checks, sent their one reminder


class _FollowUps:
    """Pairs a share of the demo's checks with earlier ones, as the bot would link them."""

    def __init__(self, store: Store, content: Content, rng: random.Random) -> None:
        self.store = store
        self.flow = content.flow
        self.rng = rng
        self.earlier: list[tuple[str, dict[str, Answer], dt.datetime]] = []
        self.taken_up = 0
        self.abandoned = 0

    def offer(
        self,
        subject: str,
        code: str,
        answers: dict[str, Answer],
        readiness: str | None,
        completed: dt.datetime,
        end: dt.datetime,
    ) -> None:
        """Note a finished Mutual's check as one a later slot may follow up; or opt it in."""
        if readiness is None:
            return
        if add_months(completed, 3) <= end - dt.timedelta(days=25):
            self.earlier.append((code, answers, completed))
        elif self.rng.random() < OPT_IN:
            # Asked for a follow-up that is still to come (demo subjects are not people).
            due = add_months(completed, 3)
            self.store.follow_up_add(subject, code, new_link_id(), due, completed)

    def take(
        self, made: int, end: dt.datetime, subject: str
    ) -> tuple[dict[str, Answer], dt.datetime, dt.datetime, str] | None:
        """For a follow-up slot: (its answers, started, finished, the link); else None.

        Most of it is confirming last time's answers, so it takes a minute or two.
        """
        if made % FOLLOW_UP_EVERY != FOLLOW_UP_EVERY // 2 or not self.earlier:
            return None
        code, answers, completed = self.earlier.pop(self.rng.randrange(len(self.earlier)))
        finished = add_months(completed, 3) + dt.timedelta(days=self.rng.randint(0, 20))
        if finished > end:
            return None
        link = new_link_id()
        self.store.follow_up_add(subject, code, link, add_months(completed, 3), completed)
        self.taken_up += 1
        started = finished - dt.timedelta(seconds=self.rng.randint(50, 150))
        return follow_up_answers(self.flow, answers, self.rng), started, finished, link

    def finish(self, end: dt.datetime) -> None:
        """Counters for review: reminders and follow-ups sent (synthetic, like the rest)."""
        sent = {
            REMINDER: round(self.abandoned * REMINDED),
            FOLLOW_UP: self.taken_up + round(self.taken_up * 0.4),
        }
        with self.store.transaction():
            self.store.add_sent({k: v for k, v in sent.items() if v}, end)


def follow_up_answers(
    flow: Flow, earlier: dict[str, Answer], rng: random.Random
) -> dict[str, Answer]:
    """A Mutual's answers some months on: a little more experience, fewer barriers and needs."""
    answers = dict(earlier)

    def ordered(qid: str, codes: set[str]) -> list[str]:
        return [o.code for o in flow.by_id[qid].options if o.code in codes]

    if answers.get("years") == "under_1" and rng.random() < 0.25:
        answers["years"] = "y1_3"
    confidence = int(str(answers.get("confidence", "v3"))[1:])
    r = rng.random()
    confidence += 1 if r < 0.35 and confidence < 5 else -1 if r > 0.9 and confidence > 1 else 0
    answers["confidence"] = f"v{confidence}"
    experience = set(answers.get("experience", ["none"])) - {"none"}
    if rng.random() < 0.35:  # a partnership formed since, often with the programme's help
        experience.add(rng.choice(["informal", "sub_partner", "sub_lead", "jv_alliance"]))
        answers["success"] = _pick(rng, SUCCESS)
    elif experience and rng.random() < 0.15:  # one that went badly
        answers["success"] = rng.choice(["v1", "v2"])
    answers["experience"] = ordered("experience", experience) or ["none"]
    appetite = answers.get("appetite")
    if appetite == "not_now" and rng.random() < 0.4:
        appetite = "might"
    elif appetite == "might" and rng.random() < 0.25:
        appetite = "definitely"
    elif appetite == "definitely" and rng.random() < 0.1:
        appetite = "might"
    answers["appetite"] = appetite or "might"
    if answers["appetite"] != "not_now" and "motivations" not in answers:
        answers["motivations"] = _tick(rng, MOTIVATIONS)
    barriers = {b for b in answers.get("barriers", []) if b != "none" and rng.random() > 0.35}
    if rng.random() < 0.12:
        barriers.add(rng.choice(list(BARRIERS)))
    answers["barriers"] = ordered("barriers", barriers) or ["none"]
    answers.pop("top_barrier", None)
    if len(barriers) > 1:
        answers["top_barrier"] = rng.choice(answers["barriers"])
    support = {c for c in answers.get("support", []) if c != "nothing" and rng.random() > 0.4}
    if rng.random() < 0.12:
        support.add(rng.choice(list(SUPPORT)))
    answers["support"] = ordered("support", support) or ["nothing"]
    answers["live_bid"] = _pick(rng, LIVE_BID)
    answers["comments"] = ""
    return flow.final_answers(answers)
