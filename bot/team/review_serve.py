"""Datasette for ``review``, run as ``python -m bot.team.review_serve`` (``review`` starts it).

Datasette's own ``serve`` always keeps uvicorn's access log, which writes every visitor's
address and port. The triage web page logs no visitor's address; nor does this: the same
Datasette, served by uvicorn with the access log off. Startup and error lines still show.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    """Serve one immutable database with the metadata, templates and settings given."""
    import uvicorn
    from datasette.app import Datasette

    parser = argparse.ArgumentParser(prog="python -m bot.team.review_serve")
    parser.add_argument("database", type=Path)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--metadata", type=Path, required=True)
    parser.add_argument("--template-dir", type=Path, required=True)
    parser.add_argument("--settings", default="{}", help="Datasette settings, as JSON")
    args = parser.parse_args(argv)
    datasette = Datasette(
        immutables=[str(args.database)],
        metadata=json.loads(args.metadata.read_text(encoding="utf-8")),
        template_dir=str(args.template_dir),
        settings=json.loads(args.settings),
    )
    asyncio.run(datasette.invoke_startup())
    uvicorn.run(
        datasette.app(),
        host=args.host,
        port=args.port,
        log_level="info",
        lifespan="on",
        access_log=False,
    )


if __name__ == "__main__":
    main()
