"""The SIP terminals' accounts as the front reads them, and the origin a worker takes
from the front's headers. Plain functions; the whole path runs in test_sip_front."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from lawline.telephony.front_accounts import COLUMNS, TABLE, subscriber_table, write_table
from lawline.terminals.models import Terminal
from lawline.terminals.registry import sip_ha1

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _terminal(tid: str, realm: str | None, village: str = "大赉村") -> Terminal:
    return Terminal(
        id=tid,
        village=village,
        township="兴安镇",
        language="zh",
        token_hash="0" * 64,
        created_at=NOW,
        revoked_at=None,
        sip_realm=realm,
        sip_ha1=sip_ha1(tid, realm, "pw") if realm else None,
    )


def test_the_table_holds_ha1_and_percent_encoded_places_and_skips_other_realms() -> None:
    text, stale = subscriber_table(
        [_terminal("a-1", "lawline", "东:村"), _terminal("b-2", "old-realm")], "lawline"
    )
    lines = text.splitlines()
    assert lines[0] == COLUMNS
    # ':' separates db_text fields; a village name with one must not shift the columns.
    assert lines[1] == f"a-1:{sip_ha1('a-1', 'lawline', 'pw')}:%E4%B8%9C%3A%E6%9D%91:" + (
        "%E5%85%B4%E5%AE%89%E9%95%87"
    )
    assert len(lines) == 2 and stale == ["b-2"], "a password for another realm cannot work"


def test_ha1_is_rfc_2617() -> None:
    # RFC 2617 3.2.2.2: HA1 = MD5(user ":" realm ":" password); a known value.
    assert sip_ha1("Mufasa", "testrealm@host.com", "Circle Of Life") == (
        "939e7578ed9e3c518a452acee763bce9"
    )


def test_a_rewrite_within_the_same_second_still_moves_the_mtime(tmp_path: Path) -> None:
    assert write_table(tmp_path, "one\n")
    first = os.stat(tmp_path / TABLE).st_mtime
    assert not write_table(tmp_path, "one\n"), "unchanged text is not rewritten"
    assert write_table(tmp_path, "two\n")
    # db_text notices a change by whole seconds of mtime.
    assert int(os.stat(tmp_path / TABLE).st_mtime) > int(first)
    assert (tmp_path / TABLE).read_text() == "two\n"
