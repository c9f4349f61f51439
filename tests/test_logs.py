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


@pytest.fixture(autouse=True)
def _uvicorn_loggers_as_serve_leaves_them() -> Iterator[None]:
    """uvicorn run in-process by earlier tests gives its loggers handlers of their own
    and stops them propagating; `lawline serve` leaves them to the root's handlers."""
    names = ("uvicorn", "uvicorn.access", "uvicorn.error")
    loggers = [logging.getLogger(n) for n in names]
    saved = [(lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    for logger in loggers:
        logger.handlers, logger.propagate, logger.disabled = [], True, False
        logger.setLevel(logging.NOTSET)
    yield
    for logger, (handlers, propagate, level) in zip(loggers, saved, strict=True):
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)


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


NUMBER = "+8613800138000"
TOKEN = "dev-tok.En_123456"


def _logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_numbers_and_credentials_are_masked_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json=True)
    log = logging.getLogger("lawline.test")
    log.info(
        "caller %s rang sip:%s@127.0.0.1",
        NUMBER,
        NUMBER[3:],
        extra={"caller": NUMBER, "contact": {"numbers": [NUMBER], "waited_s": 3}},
    )
    log.info("来电%s，回拨%s", NUMBER[3:], "04711234567")
    log.warning("terminal connected: /api/terminal/ws?token=%s#token=%s", TOKEN, TOKEN)
    log.warning("headers Authorization: Bearer %s, cookie lawline_session=%s", TOKEN, TOKEN)
    log.warning("undecodable event %s", {"token": TOKEN, "password": TOKEN})
    log.info("redis at unix://:%s@/var/redis/sock/redis.sock?db=0", TOKEN)
    try:
        raise ValueError(f"bad caller {NUMBER}")
    except ValueError:
        log.exception("dial failed")
    text = capsys.readouterr().err
    assert text.count("\n") == 7
    for secret in (NUMBER, NUMBER[-7:], "4711234567"[-7:], TOKEN):
        assert secret not in text
    # The last four digits stay, so a person can still tell two callers apart.
    assert "*8000" in text and "ValueError: bad caller" in text
    assert json.loads(text.splitlines()[0])["contact"]["waited_s"] == 3


def test_ordinary_figures_are_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json=True)
    message = (
        "stream 1764702424123-0 acked at 1764702424.1234567 after 0.1234567 s; pid 32768, "
        "port 5060, 2026-12-02 19:07:04, contact 3f2a1234567b, 12348 answered 250000 calls"
    )
    logging.getLogger("lawline.test").info(message)
    assert _logged(capsys)[0]["message"] == message


def test_access_log_has_no_query_string(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json=True)
    access = logging.getLogger("uvicorn.access")
    access.setLevel("INFO")
    # The record uvicorn's access log writes: client, method, target, HTTP version, status.
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:40000",
        "GET",
        "/api/cases/search?name=%E5%BC%A0%E4%B8%89&number=13800138000&token=abc",
        "1.1",
        200,
    )
    [record] = _logged(capsys)
    assert record["message"] == '127.0.0.1:40000 - "GET /api/cases/search?*** HTTP/1.1" 200'


def test_websocket_handshake_line_has_no_query_string(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json=True)
    # What uvicorn's websocket protocol logs on `uvicorn.error` when it accepts one.
    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:40001", "/api/terminal/ws?tok=abcdef"
    )
    [record] = _logged(capsys)
    assert record["message"] == '127.0.0.1:40001 - "WebSocket /api/terminal/ws?***" [accepted]'
