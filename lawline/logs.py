"""Logging for lawline processes: JSON lines for machines, rich for people."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.logging import RichHandler

try:
    from pythonjsonlogger.json import JsonFormatter
except ImportError:  # python-json-logger < 3.1
    from pythonjsonlogger.jsonlogger import JsonFormatter  # type: ignore[no-redef]

# Marks the handler we install, so a second call replaces it and leaves others
# (pytest's log capture, say) alone.
_MARK = "_lawline_handler"


def _drop_color_message(record: logging.LogRecord) -> bool:
    # uvicorn attaches an ANSI-coloured copy of its message; JSON wants the plain one.
    record.__dict__.pop("color_message", None)
    return True


def setup_logging(level: int | str = "INFO", json: bool | None = None) -> None:
    """Log to stderr: one JSON object a line unless stderr is a terminal."""
    if json is None:
        json = not sys.stderr.isatty()
    handler: logging.Handler
    if json:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
        handler.addFilter(_drop_color_message)
    else:
        handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=True)
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
