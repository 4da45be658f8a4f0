"""Print how long and how readable the result is for some sample profiles.

    python -m bench.result_figures                                  # this checkout
    PYTHONPATH=DIR python bench/result_figures.py --content DIR     # another version

To measure another version, unpack it (``git archive REF | tar -x -C DIR``) and run this file
by its path with ``PYTHONPATH=DIR``: that version's engine renders the results, while the
yardstick (this tree's ``bot/editors/readability.py``) and the samples (this tree's
``content/samples/``) stay the same, so the figures compare like with like.

Figures: the first message's length, everything shown without a tap ("default"), the whole
result including every section a button opens, the Flesch-Kincaid grade of each, and the
signpost catalogue's grade and sentences over 25 words. Lengths are Telegram's count of the
raw HTML (the safe side) and, in brackets, of the visible text.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent.parent
FIVE = (
    "health-bid-this-month",
    "young-tiny-mutual",
    "mature-jv-bid-soon",
    "commissioner",
    "charity-partner",
)


def _yardstick() -> ModuleType:
    """This tree's readability module, whichever ``bot`` package is being measured."""
    spec = importlib.util.spec_from_file_location("yardstick", HERE / "bot" / "readability.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result_texts(
    content: object, answers: dict, engine: object = None
) -> tuple[list[str], list[str]]:
    """(what shows without a tap, what each section button shows) for one profile."""
    from bot.conversation.engine import Command, Press
    from bot.editors.simulate import Session

    session = Session(content, engine=engine)  # type: ignore[arg-type]
    session.do("start", Command("start"))
    session.press("go", "go")
    session.answer_all(answers)
    confirm = session.press("confirm", "ok")
    default = [r.text for r in confirm.replies if r.text]
    sections = []
    for reply in confirm.replies:
        for row in reply.buttons:
            for button in row:
                if button.data and button.data.startswith("sec|"):
                    shown = session.do(button.label, Press(button.data))
                    sections.extend(r.text for r in shown.replies if r.text)
    return default, sections


def main() -> None:
    """Print the figures as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", type=Path, default=None, help="content root to measure")
    parser.add_argument("--samples", default=",".join(FIVE), help="sample names, comma-separated")
    parser.add_argument(
        "--with-contacts",
        action="store_true",
        help="contact details of typical length set, as `content check` measures (this "
        "version only)",
    )
    parser.add_argument("--show", action="store_true", help="also print each first message")
    args = parser.parse_args()

    from bot.conversation.content import load_content
    from bot.conversation.profiles import load_sample
    from bot.conversation.render import plain_text, telegram_length

    ruler = _yardstick()
    content = load_content(args.content or HERE)
    engine = None
    if args.with_contacts:
        from bot.editors.content_rules import check_engine

        engine = check_engine(content)
    print(f"Content {content.root} (version {content.digest})\n")
    print(
        "| sample | first message | default (no tap) | whole result | grade: first / default "
        "/ whole | sentences > 25 words |"
    )
    print("|---|---|---|---|---|---|")
    shown: list[tuple[str, str]] = []
    for name in args.samples.split(","):
        path = HERE / "content" / "samples" / f"{name}.yaml"
        profile = load_sample(path, content.flow, path.name)
        default, sections = _result_texts(content, profile.answers, engine)
        if args.show:
            shown.append((name, plain_text(default[0]) if default else ""))

        def size(texts: list[str]) -> str:
            raw = sum(telegram_length(t) for t in texts)
            seen = sum(telegram_length(plain_text(t)) for t in texts)
            return f"{raw:,} ({seen:,})"

        whole = default + sections
        grades = " / ".join(
            f"{ruler.grade(chr(10).join(t)):.1f}" for t in (default[:1], default, whole)
        )
        long = sum(len(ruler.long_sentences(t)) for t in whole)
        total = sum(len(ruler.sentences(t)) for t in whole)
        print(
            f"| {name} | {size(default[:1])} | {size(default)} in {len(default)} message(s) "
            f"| {size(whole)} | {grades} | {long} of {total} |"
        )

    for name, text in shown:
        print(f"\n### {name}\n\n```\n{text}\n```")

    texts = []
    for sp in content.catalogue.signposts.values():
        parts = [sp.title, sp.summary, *sp.details, *sp.pros, *sp.cons, sp.fits, sp.action]
        parts.append(getattr(sp, "step", None))
        texts.append("\n".join(p for p in parts if p))
    catalogue = "\n".join(texts)
    long = ruler.long_sentences(catalogue)
    print(
        f"\nSignposts: {len(texts)}, grade {ruler.grade(catalogue):.1f}, "
        f"{len(long)} of {len(ruler.sentences(catalogue))} sentences over 25 words."
    )


if __name__ == "__main__":
    main()
