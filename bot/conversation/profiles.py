"""Answer profiles: complete sets of answers used to check and preview the content.

``path_profiles`` gives one profile for every distinct path through the flow;
``pairwise_profiles`` a small set in which every pair of options that can be chosen together
is chosen together at least once; ``random_answers`` one random, valid set.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from bot.conversation.conditions import Answer, hashable
from bot.conversation.flow import Flow, Question
from bot.conversation.yamlfile import ContentError, Problem, YamlDoc

Fact = tuple[str, str]


@dataclass(frozen=True)
class Profile:
    """A named, complete set of answers for one person."""

    name: str
    answers: dict[str, Answer]


SAMPLE_TEXT = "We would like to meet possible partners in our area."


def _asked(flow: Flow, question: Question, answers: dict[str, Answer]) -> bool:
    if question.when is None:
        return True
    path_ids = {q.id for q in flow.path(answers)}
    return question.when.evaluate(answers, path_ids, flow.exclusive) is True


def random_answers(flow: Flow, rng: random.Random) -> dict[str, Answer]:
    """A random but valid set of answers, following the flow's branching."""
    answers: dict[str, Answer] = {}
    for question in flow.questions:
        if _asked(flow, question, answers):
            answers[question.id] = _random_answer(flow, question, answers, rng)
    return answers


def _random_answer(
    flow: Flow, question: Question, answers: dict[str, Answer], rng: random.Random
) -> Answer:
    if question.kind == "text":
        return rng.choice(["", SAMPLE_TEXT])
    options = flow.choices(question, answers)
    if question.kind != "multi":
        return rng.choice(options).code
    exclusive = [o for o in options if o.exclusive]
    if exclusive and rng.random() < 0.15:
        return [rng.choice(exclusive).code]
    plain = [o for o in options if not o.exclusive]
    picked = [o.code for o in plain if rng.random() < rng.choice((0.15, 0.3, 0.6))]
    return picked or [rng.choice(plain).code]


def _named_codes(flow: Flow) -> dict[str, frozenset[str] | None]:
    """For each question, the option codes some ``when`` names (None: every code counts).

    Options that no condition names open and close the same questions, so one of them can
    stand for the others when looking for paths. A question whose answers give another
    question its options (``options_from``) keeps every code.
    """
    named: dict[str, set[str]] = {}
    for q in flow.questions:
        for leaf in q.when.leaves() if q.when else ():
            if leaf.q:
                named.setdefault(leaf.q, set()).update(leaf.codes())
    sources = {q.options_from for q in flow.questions if q.options_from}
    return {qid: None if qid in sources else frozenset(codes) for qid, codes in named.items()}


def _representatives(
    flow: Flow,
    question: Question,
    answers: dict[str, Answer],
    named: frozenset[str] | None = None,
) -> list[Answer]:
    """Answers that between them take every branch a question can open or close.

    With ``named`` (the codes conditions name), an option no condition names stands in for
    the other unnamed options of its kind (exclusive or not): they all branch alike.
    """
    options = flow.choices(question, answers)
    if question.kind == "text":
        return ["", SAMPLE_TEXT]
    every = options
    if named is not None:
        stood_for: set[bool] = set()  # the kinds (exclusive or not) an option stands for
        kept = []
        for o in options:
            if o.code in named:
                kept.append(o)
            elif o.exclusive not in stood_for:
                stood_for.add(o.exclusive)
                kept.append(o)
        options = kept
    if question.kind != "multi":
        return [o.code for o in options]
    singles: list[Answer] = [[o.code] for o in options]
    plain = [o.code for o in every if not o.exclusive]
    return [*singles, plain] if len(plain) > 1 else singles


# A flow's path profiles, worked out once: the check, the report and the diagram each ask.
_PATHS: WeakKeyDictionary[Flow, tuple[Profile, ...]] = WeakKeyDictionary()


def path_profiles(flow: Flow) -> list[Profile]:
    """One profile for each distinct sequence of questions a person can be asked."""
    if flow not in _PATHS:
        _PATHS[flow] = tuple(_path_profiles(flow))
    return list(_PATHS[flow])


def _path_profiles(flow: Flow) -> list[Profile]:
    found: dict[tuple[str, ...], dict[str, Answer]] = {}
    named = _named_codes(flow)
    sources = sorted({q.options_from for q in flow.questions if q.options_from})
    seen: set[tuple[object, ...]] = set()

    def walk(index: int, answers: dict[str, Answer]) -> None:
        # What is left to explore from here depends only on how the `when` tests read the
        # answers so far, and on the answers that give later questions their options: a walk
        # that reaches a place already walked from alike finds only paths already found.
        # (Without this the walk visits tens of thousands of places for a few dozen paths.)
        here = (index, flow.outcomes(answers), *(hashable(answers.get(s)) for s in sources))
        if here in seen:
            return
        seen.add(here)
        for i in range(index, len(flow.questions)):
            question = flow.questions[i]
            if not _asked(flow, question, answers):
                continue
            if question.id in flow.branch_points:
                for value in _representatives(flow, question, answers, named[question.id]):
                    walk(i + 1, {**answers, question.id: value})
                return
            answers = {**answers, question.id: _representatives(flow, question, answers)[0]}
        key = tuple(q.id for q in flow.path(answers))
        found.setdefault(key, answers)

    walk(0, {})
    return [Profile(f"path {n}", answers) for n, answers in enumerate(found.values(), start=1)]


def facts(answers: dict[str, Answer]) -> set[Fact]:
    """Each chosen option as (question, option); free text as filled or skipped."""
    out: set[Fact] = set()
    for qid, value in answers.items():
        if isinstance(value, list):
            out.update((qid, code) for code in value)
        else:
            out.add((qid, value))
    return out


def _pairs(answers: dict[str, Answer]) -> frozenset[tuple[Fact, Fact]]:
    return frozenset(combinations(sorted(facts(answers)), 2))


@dataclass(frozen=True)
class Coverage:
    """How completely a set of profiles covers the options."""

    pairs: int
    covered: int
    never_chosen: tuple[Fact, ...]


def pairwise_profiles(
    flow: Flow, seed: int = 2018, pool_size: int = 1500
) -> tuple[list[Profile], Coverage]:
    """Few profiles covering every pair of options seen together in a large random pool."""
    rng = random.Random(seed)
    pool = [random_answers(flow, rng) for _ in range(pool_size)]
    pool_pairs = [_pairs(a) for a in pool]
    uncovered: set[tuple[Fact, Fact]] = set().union(*pool_pairs)
    total = len(uncovered)
    chosen: list[Profile] = []
    # Greedy set cover, lazily: a profile's gain can only shrink, so a stale gain at the top
    # of the heap that is still the best after refreshing is the true best.
    heap = [(-len(pairs), i) for i, pairs in enumerate(pool_pairs)]
    heapq.heapify(heap)
    while uncovered and heap:
        _, best = heapq.heappop(heap)
        gain = pool_pairs[best] & uncovered
        if not gain:
            continue
        if heap and len(gain) < -heap[0][0]:
            heapq.heappush(heap, (-len(gain), best))
            continue
        chosen.append(Profile(f"pairwise {len(chosen) + 1}", pool[best]))
        uncovered -= gain
    seen = set().union(*(facts(p.answers) for p in chosen))
    possible: set[Fact] = set()
    for question in flow.questions:
        source = flow.source(question)
        for option in flow.choices(source, {}):
            if not (question.options_from and option.exclusive):
                possible.add((question.id, option.code))
    never = tuple(sorted(f for f in possible if f not in seen))
    return chosen, Coverage(pairs=total, covered=total - len(uncovered), never_chosen=never)


def load_sample(path: Path, flow: Flow, display: str) -> Profile:
    """Read a sample profile (``content/samples/*.yaml``), checking every answer."""
    doc = YamlDoc(path, display)
    data: Any = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("answers"), dict):
        raise ContentError(
            [doc.problem([], "a sample needs `answers:` mapping question ids to option codes")]
        )
    raw: dict[str, Any] = data["answers"]
    problems: list[Problem] = []
    answers: dict[str, Answer] = {}
    for question in flow.questions:
        if not _asked(flow, question, answers):
            if question.id in raw:
                problems.append(
                    doc.problem(
                        ["answers", question.id],
                        f"{question.id} is not asked with these answers",
                        "remove it",
                    )
                )
            continue
        value = raw.get(question.id)
        if value is None:
            if question.kind == "text":
                answers[question.id] = ""
                continue
            codes = ", ".join(o.code for o in flow.choices(question, answers))
            problems.append(
                doc.problem(
                    ["answers"],
                    f"no answer for {question.id}",
                    f"add `{question.id}:` with one of: {codes}",
                )
            )
            continue
        if question.kind == "multi" and isinstance(value, str):
            value = [value]
        if question.kind == "scale" and isinstance(value, int):
            value = f"v{value}"
        if not flow.valid_answer(question, value, answers):
            codes = ", ".join(o.code for o in flow.choices(question, answers))
            problems.append(
                doc.problem(
                    ["answers", question.id],
                    f"{question.id}: {value!r} is not a valid answer",
                    f"use {'a list of ' if question.kind == 'multi' else ''}one of: {codes}",
                )
            )
            continue
        answers[question.id] = value
    for qid in raw:
        if qid not in flow.by_id:
            problems.append(doc.problem(["answers", qid], f"{qid!r} is not a question"))
    if problems:
        raise ContentError(problems)
    name = str(data.get("name") or path.stem)
    return Profile(name, answers)


def sample_files(root: Path) -> Iterator[Path]:
    """The sample profiles editors keep in ``content/samples/``."""
    yield from sorted((root / "content" / "samples").glob("*.yaml"))
