"""The conversation flow: loaded from ``flows/*.yaml`` into one shared state machine.

The YAML lists questions in order, each optionally guarded by a ``when`` condition. From it we
derive, without any per-conversation state, the person's *path* (the questions they will be
asked given their answers so far), and the transitions of a single ``transitions`` machine:
``advance`` (to the next question on the path, or the summary), ``back``, ``change_<id>``
(from the summary or a later question), ``confirm`` and ``restart``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from string import Formatter
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from transitions import EventData, Machine

from bot.conversation.conditions import Answer, Answers, Condition, hashable
from bot.conversation.yamlfile import ContentError, YamlDoc

WELCOME, SUMMARY, DONE = "welcome", "summary", "done"
RESERVED = frozenset({WELCOME, SUMMARY, DONE})
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
# Longest callback: "c|<step>|<question id>"; Telegram allows 64 bytes.
CALLBACK_LIMIT = 64
MAX_STEP_DIGITS = 9
# Paths kept by Flow.path, at most: far more than the flow's distinct outcomes.
PATHS_KEPT = 4096

_K = TypeVar("_K")
_V = TypeVar("_V")


def _kept(cache: dict[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
    """``cache[key]``, made by ``make`` the first time.

    Bounded however answers are made up: the cache is emptied once it holds PATHS_KEPT.
    """
    found = cache.get(key)
    if found is None:
        if len(cache) >= PATHS_KEPT:
            cache.clear()
        found = cache[key] = make()
    return found


Kind = Literal["single", "multi", "scale", "text"]


class Option(BaseModel):
    """One answer a person can tap. ``code`` is stored; ``label`` is shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    label: str = Field(min_length=1, max_length=64)
    exclusive: bool = False

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not CODE_RE.match(value):
            raise ValueError(
                f"option code {value!r} must be lower-case letters, digits and _ "
                "(starting with a letter, at most 24 characters)"
            )
        return value


class Scale(BaseModel):
    """A 1-to-N rating with words for each end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = 1
    max: int = 5
    low: str
    high: str

    @model_validator(mode="after")
    def _range(self) -> Scale:
        if not 0 <= self.min < self.max <= 10:
            raise ValueError("a scale runs from min to max, within 0 to 10")
        return self


class Question(BaseModel):
    """One question of the flow, as an editor writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str
    label: str = Field(min_length=1, max_length=40)
    kind: Kind
    text: str = Field(min_length=1)
    options: tuple[Option, ...] = ()
    options_from: str | None = None
    scale: Scale | None = None
    when: Condition | None = None
    columns: int = Field(1, ge=1, le=3)
    optional: bool = False
    max_length: int = Field(1000, ge=10, le=3000)
    implied: bool = Field(
        False,
        description="for an options_from question: when it is not asked because only one "
        "option was chosen, rules read that option as its answer",
    )
    purpose: str | None = Field(
        None, description="why it is asked, when nothing in the result uses the answer"
    )
    error: str | None = Field(
        None,
        min_length=1,
        max_length=160,
        description="what the web page says when nothing is chosen, naming the question "
        "('Select which of these best describes your organisation'); it may use {min} and "
        "{max} (a scale) and {exclusive} (a multi-select's 'None yet' option). Without it, "
        "content/web.yaml's error for the kind of question is used, with the label",
    )

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not CODE_RE.match(value):
            raise ValueError(
                f"question id {value!r} must be lower-case letters, digits and _ "
                "(starting with a letter, at most 24 characters)"
            )
        if value in RESERVED:
            raise ValueError(f"{value!r} is reserved; choose another id")
        return value

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.kind in ("single", "multi"):
            if bool(self.options) == bool(self.options_from):
                raise ValueError(f"a {self.kind} question needs `options` or `options_from`")
        elif self.options or self.options_from:
            raise ValueError(f"a {self.kind} question has no options")
        if self.kind == "scale" and self.scale is None:
            raise ValueError("a scale question needs `scale: {min, max, low, high}`")
        if self.kind != "scale" and self.scale is not None:
            raise ValueError("only a scale question has `scale`")
        if self.optional and self.kind != "text":
            raise ValueError("only a text question can be optional (choice questions have Back)")
        codes = [o.code for o in self.options]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"option codes repeat: {', '.join(dupes)}")
        if any(o.exclusive for o in self.options) and self.kind != "multi":
            raise ValueError("only multi-select options can be `exclusive`")
        if self.implied and not (self.options_from and self.kind == "single"):
            raise ValueError("only a single-choice question with options_from can be `implied`")
        if self.error is not None:
            self._check_error(self.error)
        return self

    def _check_error(self, error: str) -> None:
        if self.optional:
            raise ValueError("an optional question is never refused, so it has no `error`")
        allowed = set()
        if self.kind == "scale":
            allowed = {"min", "max"}
        elif self.exclusive_codes:
            allowed = {"exclusive"}
        try:
            used = {name for _, name, _, _ in Formatter().parse(error) if name is not None}
        except ValueError as exc:
            raise ValueError(f"`error` has a stray brace: {exc}") from None
        if used - allowed:
            unknown = ", ".join("{" + n + "}" for n in sorted(used - allowed))
            can = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
            raise ValueError(f"`error` uses {unknown}; this question can use: {can}")
        if error.rstrip().endswith("."):
            raise ValueError("`error` is one instruction with no full stop at the end")

    @property
    def exclusive_codes(self) -> frozenset[str]:
        """Codes that clear every other choice when ticked (for example "None yet")."""
        return frozenset(o.code for o in self.options if o.exclusive)


class FlowSpec(BaseModel):
    """A whole ``flows/*.yaml`` file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    questions: tuple[Question, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Position:
    """Where a question sits on the person's current path."""

    number: int
    total: int


class Flow:
    """A validated flow plus everything derived from it (paths, the machine spec)."""

    def __init__(self, spec: FlowSpec) -> None:
        self.spec = spec
        self.questions = spec.questions
        self.by_id: dict[str, Question] = {q.id: q for q in spec.questions}
        self.order = {q.id: i for i, q in enumerate(spec.questions)}
        self.first = spec.questions[0]
        self.exclusive = {q.id: q.exclusive_codes for q in spec.questions}
        self._paths: dict[tuple[bool | None, ...], tuple[Question, ...]] = {}
        self._longests: dict[tuple[object, ...], int] = {}

    # ---- answers and paths -------------------------------------------------------------

    def source(self, question: Question) -> Question:
        """The question whose options this one offers (itself, unless it has options_from)."""
        return self.by_id[question.options_from] if question.options_from else question

    def choices(self, question: Question, answers: Answers) -> tuple[Option, ...]:
        """The options shown for ``question`` given earlier answers."""
        if question.scale is not None:
            s = question.scale
            return tuple(Option(code=f"v{n}", label=str(n)) for n in range(s.min, s.max + 1))
        if question.options_from:
            source = self.by_id[question.options_from]
            picked = answers.get(source.id) or []
            picked = [picked] if isinstance(picked, str) else picked
            return tuple(o for o in source.options if o.code in picked and not o.exclusive)
        return question.options

    def valid_answer(self, question: Question, value: Answer | None, answers: Answers) -> bool:
        """Whether ``value`` is a complete, currently valid answer to ``question``."""
        if value is None:
            return False
        if question.kind == "text":
            return isinstance(value, str)
        codes = {o.code for o in self.choices(question, answers)}
        if question.kind == "multi":
            return isinstance(value, list) and bool(value) and all(c in codes for c in value)
        return isinstance(value, str) and value in codes

    def path(self, answers: Answers) -> list[Question]:
        """Questions this person is asked, in order, given their answers so far.

        A question whose condition cannot be decided yet counts as on the path, so the
        "of N" in the progress line can only shrink as the person answers.
        """
        # Keyed on what each single-question test of a `when` makes of the answers: the path
        # is decided by those outcomes alone (whether a tested question is itself on the
        # path follows from earlier outcomes), so everyone whose answers fall alike shares
        # the work: a few dozen keys, where the branch points' answers themselves make tens
        # of thousands in content check. The engine asks for the path many times an event.
        return list(_kept(self._paths, self.outcomes(answers), lambda: self._path(answers)))

    def outcomes(self, answers: Answers) -> tuple[bool | None, ...]:
        """What each single-question test of a ``when`` makes of ``answers``.

        Each as if its question were asked (the path itself says whether it is). The path,
        and so whether each question is asked, depends on the answers through these alone.
        """
        exclusive = self.exclusive
        return tuple([leaf.test(answers.get(leaf.q), exclusive) for leaf in self._leaves])

    @cached_property
    def _leaves(self) -> tuple[Condition, ...]:
        """Every distinct single-question test in the questions' ``when`` conditions."""
        leaves = [leaf for q in self.questions if q.when for leaf in q.when.leaves()]
        return tuple(dict.fromkeys(leaves))

    def _path(self, answers: Answers) -> tuple[Question, ...]:
        on_path: list[Question] = []
        ids: set[str] = set()
        for question in self.questions:
            if question.when is None or question.when.evaluate(answers, ids, self.exclusive) in (
                True,
                None,
            ):
                on_path.append(question)
                ids.add(question.id)
        return tuple(on_path)

    def clean(self, answers: Mapping[str, Any]) -> dict[str, Answer]:
        """Drop answers that no longer fit the flow (after a content change)."""
        kept: dict[str, Answer] = {}
        for question in self.questions:
            value = answers.get(question.id)
            if self.valid_answer(question, value, kept):
                kept[question.id] = value
        return kept

    def position(self, question_id: str, answers: Answers) -> Position:
        """Position of a question on the path, for "Question N of M"."""
        ids = [q.id for q in self.path(answers)]
        number = ids.index(question_id) + 1 if question_id in ids else len(ids)
        return Position(number=number, total=max(number, self.longest(answers)))

    def longest(self, answers: Answers) -> int:
        """The most questions the person could still be asked, given their answers so far.

        Where an unanswered single choice decides later branches (the organisation type, for
        example), each of its options is tried and the longest outcome counted; alternative
        branches are never added together.
        """
        # Worked out for every question shown (and every reminder). Keyed on all that the
        # working-out reads: the path (decided by the `when` tests' outcomes), which of the
        # choices it tries are made, and the answers those choices' options come from.
        # People whose answers differ in nothing else share the work.
        key = (
            self.outcomes(answers),
            tuple([q in answers for q in self._tried]),
            tuple([hashable(answers.get(s)) for s in self._tried_sources]),
        )
        return _kept(self._longests, key, lambda: self._longest(answers))

    @cached_property
    def _tried(self) -> tuple[str, ...]:
        """The choices ``longest`` tries each option of, when they are not made yet."""
        return tuple(
            q.id for q in self.questions if q.id in self.branch_points and q.kind != "multi"
        )

    @cached_property
    def _tried_sources(self) -> tuple[str, ...]:
        """The questions whose answers give a tried choice its options (``options_from``)."""
        sources = (self.by_id[q].options_from for q in self._tried)
        return tuple(dict.fromkeys(s for s in sources if s))

    def _longest(self, answers: Answers) -> int:
        path = self.path(answers)
        for question in path:
            if (
                question.id in self.branch_points
                and question.kind != "multi"
                and (question.id not in answers)
            ):
                return max(
                    self.longest({**answers, question.id: option.code})
                    for option in self.choices(question, answers)
                )
        return len(path)

    @cached_property
    def branch_points(self) -> frozenset[str]:
        """Questions whose answers decide whether later questions are asked."""
        return frozenset(
            leaf.q for q in self.questions if q.when for leaf in q.when.leaves() if leaf.q
        )

    def unanswered(self, answers: Answers) -> list[Question]:
        """Questions on the path still waiting for an answer (optional text counts as owed)."""
        return [
            q for q in self.path(answers) if not self.valid_answer(q, answers.get(q.id), answers)
        ]

    def with_implied(self, answers: Answers) -> tuple[dict[str, Answer], set[str]]:
        """Answers plus those implied by a single choice, and the ids on the path.

        "Which is the biggest barrier?" is only asked when several are picked; with one, that
        one is the biggest. Rules and rankings read it so; the stored answers never change.
        """
        path_ids = {q.id for q in self.path(answers)}
        full: dict[str, Answer] = dict(answers)
        for question in self.questions:
            if not question.implied or question.id in path_ids or not question.options_from:
                continue
            source = self.by_id[question.options_from]
            picked = answers.get(source.id) if source.id in path_ids else None
            codes = [c for c in picked or [] if c not in source.exclusive_codes]
            if isinstance(picked, list) and len(codes) == 1:
                full[question.id] = codes[0]
                path_ids.add(question.id)
        return full, path_ids

    def final_answers(self, answers: Answers) -> dict[str, Answer]:
        """Only the answers on the final path: what a completed response keeps."""
        return {
            q.id: answers[q.id]
            for q in self.path(answers)
            if self.valid_answer(q, answers.get(q.id), answers)
        }

    # ---- the machine -------------------------------------------------------------------

    @cached_property
    def states(self) -> list[str]:
        """Every state of the machine, in conversation order."""
        return [WELCOME, *(q.id for q in self.questions), SUMMARY, DONE]

    def transitions(self, guard: Callable[[str, str], Callable[[EventData], bool]]) -> list[dict]:
        """The machine's transitions. ``guard(kind, target)`` builds each condition."""
        ids = [q.id for q in self.questions]
        spec: list[dict] = []
        for i, source in enumerate([WELCOME, *ids]):
            for target in ids[i:]:
                spec.append(
                    {
                        "trigger": "advance",
                        "source": source,
                        "dest": target,
                        "conditions": [guard("next", target)],
                    }
                )
            spec.append({"trigger": "advance", "source": source, "dest": SUMMARY})
        for i, source in enumerate([*ids, SUMMARY]):
            if source != SUMMARY:
                spec.append(
                    {
                        "trigger": "back",
                        "source": source,
                        "dest": SUMMARY,
                        "conditions": [guard("return", SUMMARY)],
                    }
                )
            for target in reversed(ids[:i]):
                spec.append(
                    {
                        "trigger": "back",
                        "source": source,
                        "dest": target,
                        "conditions": [guard("on_path", target)],
                    }
                )
            spec.append({"trigger": "back", "source": source, "dest": WELCOME})
        for i, target in enumerate(ids):
            # From the summary's Change, or from a later question (the web page's own Back
            # in the browser goes to an earlier question's address).
            spec.append(
                {
                    "trigger": f"change_{target}",
                    "source": [SUMMARY, *ids[i + 1 :]],
                    "dest": target,
                    "conditions": [guard("on_path", target)],
                }
            )
        spec.append(
            {
                "trigger": "confirm",
                "source": SUMMARY,
                "dest": DONE,
                "conditions": [guard("complete", DONE)],
            }
        )
        spec.append({"trigger": "restart", "source": "*", "dest": self.first.id})
        return spec


class _Guard:
    """A transition condition with a readable name (shown in the flow diagram)."""

    def __init__(self, name: str, test: Callable[[Any], bool]) -> None:
        self.__name__ = name
        self._test = test

    def __call__(self, event: EventData) -> bool:
        return self._test(event.model)


def guards_for(flow: Flow) -> Callable[[str, str], Callable[[EventData], bool]]:
    """Condition factory used by the engine's machine (and the diagram, for names)."""

    def make(kind: str, target: str) -> Callable[[EventData], bool]:
        if kind == "next":
            question = flow.by_id[target]
            name = question.when.describe() if question.when else "on path"

            def test(model: Any) -> bool:
                if target not in model.path_ids:
                    return False
                # When revisiting from the summary, skip what is already answered.
                return not model.reviewing or target in model.unanswered_ids

            return _Guard(name, test)
        if kind == "on_path":
            return _Guard("on path", lambda model: target in model.path_ids)
        if kind == "return":
            return _Guard(
                "reviewing, all answered",
                lambda model: model.reviewing and not model.unanswered_ids,
            )
        if kind == "complete":
            return _Guard("all answered", lambda model: not model.unanswered_ids)
        raise ValueError(kind)

    return make


class LeanMachine(Machine):
    """The conversation machine: a model gets ``trigger`` and ``state``, nothing more.

    transitions also gives every model added a method per trigger and per state
    (``advance()``, ``may_advance()``, ``is_summary()``...). The engine uses none of them, and
    adding them to the throw-away model of every event was about a sixth of the Telegram
    bot's CPU per update (measured with py-spy under ``bench.transport``).
    """

    def _add_trigger_to_model(self, trigger: str, model: Any) -> None:
        return None

    def _add_model_to_state(self, state: Any, model: Any) -> None:
        return None


def build_machine(flow: Flow, machine_class: type[Machine] = LeanMachine, **kwargs: Any) -> Machine:
    """Build THE machine for a flow: one instance, shared by every conversation."""
    return machine_class(
        model=None,
        states=flow.states,
        transitions=flow.transitions(guards_for(flow)),
        initial=WELCOME,
        auto_transitions=False,
        send_event=True,
        **kwargs,
    )


def load_flow(path: Path, display: str | None = None) -> Flow:
    """Load and validate a flow file, raising :class:`ContentError` with file and line."""
    doc = YamlDoc(path, display or path.name)
    spec = doc.validate(FlowSpec)
    problems = []
    seen: dict[str, int] = {}
    for i, question in enumerate(spec.questions):
        if question.id in seen:
            problems.append(
                doc.problem(
                    ["questions", i, "id"],
                    f"question id {question.id!r} is used twice",
                    "every question needs its own id",
                )
            )
        earlier = {q.id: q for q in spec.questions[:i]}
        if question.when is not None:
            for leaf in question.when.leaves():
                loc: list[str | int] = ["questions", i, "when"]
                if leaf.q not in earlier:
                    problems.append(
                        doc.problem(
                            loc,
                            f"{question.id}: `when` looks at {leaf.q!r}, which is "
                            "not a question above this one",
                            "a condition may only use answers already given",
                        )
                    )
                    continue
                source = earlier[leaf.q]
                known = {o.code for o in source.options}
                if source.scale is not None:
                    known = {f"v{n}" for n in range(source.scale.min, source.scale.max + 1)}
                for code in leaf.codes():
                    if code not in known:
                        problems.append(
                            doc.problem(
                                loc,
                                f"{question.id}: `when` names option {code!r}, "
                                f"which {leaf.q} does not have",
                                f"use one of: {', '.join(sorted(known))}",
                            )
                        )
                if leaf.min_selected is not None and source.kind != "multi":
                    problems.append(
                        doc.problem(
                            loc,
                            f"{question.id}: min_selected only works on a "
                            f"multi-select question, and {leaf.q} is {source.kind}",
                        )
                    )
        if question.options_from is not None:
            source = earlier.get(question.options_from)
            if source is None or source.kind != "multi":
                problems.append(
                    doc.problem(
                        ["questions", i, "options_from"],
                        f"{question.id}: options_from must name a multi-select "
                        "question above this one",
                    )
                )
        longest = max([len(o.code) for o in question.options] + [len(question.id), 3])
        if len(f"c|{'9' * MAX_STEP_DIGITS}|") + longest > CALLBACK_LIMIT:
            problems.append(doc.problem(["questions", i], "codes are too long for Telegram"))
        seen[question.id] = i
    if spec.questions and spec.questions[0].when is not None:
        problems.append(
            doc.problem(
                ["questions", 0, "when"],
                "the first question must be asked of everyone",
                "remove its `when`",
            )
        )
    if problems:
        raise ContentError(problems)
    return Flow(spec)
