"""Conditions over answers, shared by the flow's branching and the signposting rules.

A condition is written in YAML as a small mapping (see ``flows/triage.yaml``). Evaluation is
three-valued: ``True``, ``False`` or ``None`` for "not known yet" (the question it looks at is on
the person's path but not answered). A question that is not on the path has no answer at all,
so a condition on it is simply false.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping

from pydantic import BaseModel, ConfigDict, Field, model_validator

Answer = str | list[str]
Answers = Mapping[str, Answer]
# Answers as a hashable key (lists become tuples, keys sorted), for caches keyed by answers.
Frozen = tuple[tuple[str, str | tuple[str, ...]], ...]


def freeze(answers: Answers) -> Frozen:
    """Answers as a hashable key: sorted by question, each list made a tuple."""
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(answers.items()))


def hashable(value: Answer | None) -> object:
    """One answer as a hashable key (a list made a tuple)."""
    return tuple(value) if isinstance(value, list) else value


def thaw(key: Frozen) -> dict[str, Answer]:
    """The answers a :func:`freeze` key stands for, lists again."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in key}


class Condition(BaseModel):
    """One condition: a test on one question's answer, or ``all``/``any``/``not`` of others."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    q: str | None = Field(None, description="the question whose answer is tested")
    in_: tuple[str, ...] | None = Field(None, alias="in")
    not_in: tuple[str, ...] | None = None
    min_selected: int | None = Field(None, ge=1)
    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        tests = [x for x in (self.in_, self.not_in, self.min_selected) if x is not None]
        groups = [x for x in (self.all, self.any, self.not_) if x is not None]
        if self.q is not None:
            if groups or len(tests) != 1:
                raise ValueError(
                    "a condition on `q` needs exactly one of: in, not_in, min_selected"
                )
        elif tests or len(groups) != 1:
            raise ValueError("write either `q` with a test, or exactly one of: all, any, not")
        return self

    def leaves(self) -> Iterator[Condition]:
        """Yield every single-question test inside this condition."""
        if self.q is not None:
            yield self
        for child in (*(self.all or ()), *(self.any or ())):
            yield from child.leaves()
        if self.not_ is not None:
            yield from self.not_.leaves()

    def codes(self) -> tuple[str, ...]:
        """Option codes a leaf test names (empty for ``min_selected``)."""
        return self.in_ or self.not_in or ()

    def evaluate(
        self,
        answers: Answers,
        on_path: Collection[str],
        exclusive: Mapping[str, frozenset[str]] | None = None,
    ) -> bool | None:
        """Evaluate against ``answers``; ``on_path`` lists questions the person is asked."""
        if self.all is not None:
            results = [c.evaluate(answers, on_path, exclusive) for c in self.all]
            if False in results:
                return False
            return None if None in results else True
        if self.any is not None:
            results = [c.evaluate(answers, on_path, exclusive) for c in self.any]
            if True in results:
                return True
            return None if None in results else False
        if self.not_ is not None:
            inner = self.not_.evaluate(answers, on_path, exclusive)
            return None if inner is None else not inner
        assert self.q is not None
        if self.q not in on_path:
            return False
        return self.test(answers.get(self.q), exclusive)

    def test(
        self, value: Answer | None, exclusive: Mapping[str, frozenset[str]] | None = None
    ) -> bool | None:
        """A single-question test on that question's answer, as if the question were asked.

        ``None`` when it is not answered yet. (:meth:`evaluate` adds that a question off the
        path makes the test false.)
        """
        if isinstance(value, str):  # one choice: the common case, kept quick (Flow.path)
            if self.in_ is not None:
                return value in self.in_
            if self.not_in is not None:
                return value not in self.not_in
        if value is None or value == []:
            return None
        chosen = [value] if isinstance(value, str) else list(value)
        if self.in_ is not None:
            return any(code in self.in_ for code in chosen)
        if self.not_in is not None:
            return not any(code in self.not_in for code in chosen)
        skip = (exclusive or {}).get(self.q or "", frozenset())
        return len([c for c in chosen if c not in skip]) >= (self.min_selected or 0)

    def describe(self) -> str:
        """A short, code-level description, used in diagrams and check messages."""
        if self.all is not None:
            return " and ".join(c.describe() for c in self.all)
        if self.any is not None:
            return "(" + " or ".join(c.describe() for c in self.any) + ")"
        if self.not_ is not None:
            return f"not ({self.not_.describe()})"
        if self.in_ is not None:
            return f"{self.q} in {'/'.join(self.in_)}"
        if self.not_in is not None:
            return f"{self.q} not {'/'.join(self.not_in)}"
        return f"{self.q} has {self.min_selected}+"
