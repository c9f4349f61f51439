"""Logging for lawline processes: JSON lines for machines, rich for people.

No citizen's number and no credential reaches a log line. Code logs masked
numbers and ids, not tokens; `Redactor`, on every handler lawline installs, is
the last line of defence for what slips through (a library's message, an
exception's text, a URL): it masks runs that look like telephone numbers and
anything token-shaped, and `redact_access_path` drops query strings from
uvicorn's access and websocket lines (terminal tokens, ledger searches by number
and name), keeping the client, method, path, status and time.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

from lawline.phone_numbers import PHONE_LIKE_DIGITS, mask_number

try:
    from pythonjsonlogger.json import JsonFormatter
except ImportError:  # python-json-logger < 3.1
    from pythonjsonlogger.jsonlogger import JsonFormatter  # type: ignore[no-redef]

# Marks the handler we install, so a second call replaces it and leaves others
# (pytest's log capture, say) alone.
_MARK = "_lawline_handler"
HIDDEN = "***"

# A telephone number: PHONE_LIKE_DIGITS (7) or more digits, optionally after +. Not part of a
# longer word or hex id (ASCII letters and digits around it), not a Redis stream
# id (1733150000000-0), not either side of a decimal point (a float time). Times,
# ports, pids and counts have fewer digits. Chinese characters may touch it.
_PHONE = re.compile(
    rf"(?<![A-Za-z0-9+])(?<!\d\.)\+?\d{{{PHONE_LIKE_DIGITS},}}(?![A-Za-z0-9])(?!-\d)(?!\.\d)"
)
# Credentials by name: `?token=`, `#token=`, `&password=`, `lawline_session=` (a
# cookie), `"token": "..."` (JSON), `Bearer ...`, and a URL's password.
_CREDENTIAL_NAMES = r"(?:access_token|token|password|passwd|secret_key|secret|lawline_session)"
_CREDENTIALS = (
    re.compile(rf"(?i)(\b{_CREDENTIAL_NAMES}=)[^\s&#;,\"'<>]+"),
    re.compile(rf"(?i)([\"']{_CREDENTIAL_NAMES}[\"']\s*:\s*[\"'])[^\"']+"),
    re.compile(r"(?i)(\bBearer\s+)[^\s\"',;]+"),
    re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)"),
)
# LogRecord's own attributes; the rest were passed with extra= and are logged too.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    """`text` with telephone-number-like runs masked and credentials hidden."""
    for pattern in _CREDENTIALS:
        text = pattern.sub(rf"\g<1>{HIDDEN}", text)
    return _PHONE.sub(lambda m: mask_number(m.group()), text)


def redact_access_path(path: str) -> str:
    """A request target without its query string (which may hold tokens and searches)."""
    path, query_mark, _ = path.partition("?")
    return path + (f"?{HIDDEN}" if query_mark else "")


class Redactor(logging.Filter):
    """Masks numbers and credentials in a record before any handler formats it."""

    _exception_formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_request_targets(record)
        record.msg = redact(_message(record))
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS:
                setattr(record, key, _redact_value(value))
        if record.exc_info:
            # Formatted here so its text is redacted too (the traceback is kept as text).
            text = self._exception_formatter.formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redact_value(value: Any) -> Any:
    """An extra field: its text redacted, inside dicts and lists too (JSON keeps them)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format
        return f"{record.msg} {record.args!r}"


def _redact_request_targets(record: logging.LogRecord) -> None:
    # uvicorn logs the request target with its query as an argument: the access log's
    # (client, method, target, HTTP version, status), and a websocket handshake's
    # (client, target) on `uvicorn.error`.
    if record.name.startswith("uvicorn") and isinstance(record.args, tuple):
        record.args = tuple(
            redact_access_path(a) if isinstance(a, str) and a.startswith("/") else a
            for a in record.args
        )


class _RequestTargetFilter(logging.Filter):
    """On uvicorn's loggers: no handler (ours or another) sees a query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_request_targets(record)
        return True


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
    else:
        handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=True)
    # Before formatting: rich would otherwise print the coloured copy, unredacted.
    handler.addFilter(_drop_color_message)
    handler.addFilter(Redactor())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RequestTargetFilter) for f in logger.filters):
            logger.addFilter(_RequestTargetFilter())
