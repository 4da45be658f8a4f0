"""Which content a command runs with, in one line, and a warning when it is not the one edited.

``pip install .`` copies flows/, templates/ and content/ into the package. Run from another
folder, the bot uses that copy, so an edit in the repository seems to be ignored. Every
command that loads content says where it came from, and warns when a repository it can find
(the current folder or one above it, or the one holding the virtual environment) has
different content from the installed copy in use.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.conversation.content import digest_of
from bot.settings import bundled_content_dir

PROJECT_NAME = "mpsp-triage"


@dataclass(frozen=True)
class ContentSource:
    """Where content comes from and, for an installed copy, a repository that differs."""

    folder: Path
    kind: Literal["installed", "checkout", "chosen"]
    digest: str
    repository: Path | None = None
    repository_digest: str = ""

    def line(self) -> str:
        """One line naming the folder, for the top of a command's output."""
        where = {
            "installed": "the copy installed with the bot",
            "checkout": "this checkout of the repository",
            "chosen": "set by TRIAGE_CONTENT_DIR or --content",
        }[self.kind]
        return f"Content from {self.folder} ({where}; version {self.digest})"

    def warning(self) -> str | None:
        """What to do when the repository's content differs from the installed copy in use."""
        if self.repository is None:
            return None
        repo = self.repository
        return (
            f"the content in {repo} (version {self.repository_digest}) differs from the "
            f"installed copy in use: to use the repository's, set TRIAGE_CONTENT_DIR={repo}, "
            f"or install the bot from it as editable (pip install -e {repo}), "
            f"or reinstall it (pip install {repo})"
        )


def is_repository(folder: Path) -> bool:
    """Whether ``folder`` is a checkout of this project (its pyproject.toml and content)."""
    project = folder / "pyproject.toml"
    if not (project.is_file() and (folder / "flows").is_dir()):
        return False
    try:
        text = project.read_text(encoding="utf-8")
    except OSError:
        return False
    return f'name = "{PROJECT_NAME}"' in text


def nearby_folders() -> list[Path]:
    """Where a repository may be: here and above, and the folder holding the venv."""
    here = Path.cwd()
    return [here, *here.parents, Path(sys.prefix).parent]


def content_source(
    folder: Path, bundled: Path | None = None, near: Iterable[Path] | None = None
) -> ContentSource:
    """Describe the content in ``folder``; look for a differing repository if it is installed."""
    bundled = bundled_content_dir() if bundled is None else bundled
    digest = digest_of(folder)
    if folder.resolve() != bundled.resolve():
        return ContentSource(folder, "chosen", digest)
    if bundled.name != "_content":
        return ContentSource(folder, "checkout", digest)
    for candidate in nearby_folders() if near is None else near:
        if is_repository(candidate):
            theirs = digest_of(candidate)
            if theirs != digest:
                return ContentSource(folder, "installed", digest, candidate, theirs)
            break
    return ContentSource(folder, "installed", digest)
