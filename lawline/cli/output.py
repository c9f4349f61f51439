"""How commands report: errors on stderr with an exit code, tables through rich."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

# Wide enough for the endpoint table when output goes to a file or journal.
_PIPE_WIDTH = 160


def fail(message: object, code: int = 1) -> NoReturn:
    """Print `error: message` on stderr and end the command with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def console() -> Console:
    """A rich console for `serve`'s tables, not cut narrow when piped."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = max(out.width, _PIPE_WIDTH)
    return out
