"""``flow diagram``: the conversation as Mermaid and as an image, from the bot's own machine.

The diagram is built from the same transition list the running bot's machine uses
(:meth:`bot.conversation.flow.Flow.transitions`), keeping the moves a person can actually make going
forward. Back (on every question), changing an answer from the summary and /restart are
everywhere, so they are noted in the title rather than drawn.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from transitions.extensions import GraphMachine

from bot.conversation.flow import DONE, SUMMARY, WELCOME, Flow, guards_for
from bot.conversation.profiles import path_profiles

TITLE = "MPSP triage flow (every question also has Back; the summary can change any answer)"


@dataclass(frozen=True)
class Written:
    """Files written, and why an image could not be made (if it could not)."""

    mermaid: Path
    image: Path | None
    note: str = ""


def forward_edges(flow: Flow) -> set[tuple[str, str]]:
    """Every forward move some path through the flow makes."""
    edges = {(SUMMARY, DONE)}
    for profile in path_profiles(flow):
        states = [WELCOME, *(q.id for q in flow.path(profile.answers)), SUMMARY]
        edges.update(pairwise(states))
    return edges


def _machine(flow: Flow, engine: str) -> Any:
    edges = forward_edges(flow)
    spec = [
        t
        for t in flow.transitions(guards_for(flow))
        if t["trigger"] in ("advance", "confirm") and (t["source"], t["dest"]) in edges
    ]

    class Model:
        pass

    model = Model()
    GraphMachine(
        model=model,
        states=flow.states,
        transitions=spec,
        initial=WELCOME,
        auto_transitions=False,
        send_event=True,
        show_conditions=True,
        graph_engine=engine,
        title=TITLE,
    )
    return model


def mermaid(flow: Flow) -> str:
    """The flow as a Mermaid state diagram."""
    return str(_machine(flow, "mermaid").get_graph().draw(None))


def write_diagram(flow: Flow, out_dir: Path, fmt: str = "svg") -> Written:
    """Write ``flow.mmd`` and, if Graphviz is installed, ``flow.svg`` or ``flow.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    mmd = out_dir / "flow.mmd"
    mmd.write_text(mermaid(flow), encoding="utf-8")
    if shutil.which("dot") is None:
        return Written(
            mmd,
            None,
            "Graphviz is not installed, so no image was drawn "
            "(install it with `apt install graphviz` or `brew install graphviz`, "
            "or paste flow.mmd into https://mermaid.live)",
        )
    graph = _machine(flow, "graphviz").get_graph()
    graph.graph_attr.update(rankdir="TB", fontname="Helvetica", fontsize="12")
    graph.node_attr.update(fontname="Helvetica", fontsize="11")
    graph.edge_attr.update(fontname="Helvetica", fontsize="9")
    image = out_dir / f"flow.{fmt}"
    graph.draw(str(image), format=fmt, prog="dot")
    return Written(mmd, image)
