"""Options more than one command takes, defined once so their flags and help read alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

LogLevel = Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")]

ListenHost = Annotated[str, typer.Option(help="Address to listen on.")]
ListenPort = Annotated[int, typer.Option(help="Port on --host to listen on.")]

ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        exists=True,
        dir_okay=False,
        help="TOML settings file (sets LAWLINE_CONFIG).",
    ),
]
