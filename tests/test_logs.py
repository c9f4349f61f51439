"""setup_logging writes one JSON object a line when asked to."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from lawline.logs import setup_logging


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json=True)
    setup_logging("INFO", json=True)  # a second call replaces, not doubles, the handler
    logging.getLogger("lawline.test").info("caller %s queued", "A1", extra={"color_message": "x"})
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "caller A1 queued"
    assert record["level"] == "INFO"
    assert record["logger"] == "lawline.test"
    assert "color_message" not in record
