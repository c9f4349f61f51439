"""Words in transcripts beside numbers and Latin words, on both databases, and
migration 0013, which rebuilt the search text stored before them (cases/search.py)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select

from lawline.cases import search
from lawline.cases.models import LedgerContact
from lawline.db import alembic_config, make_engine, session_factory, upgrade
from tests.ledger_helpers import search_text, store_transcripts

# Oldest first; "apart" holds 2023 and 年, not side by side.
SAID = {
    "signed": "我2023年签的合同",
    "later": "我2024年签的合同",
    "apart": "2023我们年底再谈",
    "company": "在ABC公司上班",
    "spaced": "我们 ABC 公司",
    "phone": "我的电话是13800138000明天打",
    "id": "身份证号11010519491231002X",
}


def test_numbers_and_latin_words_are_tokens_of_their_own() -> None:
    assert search.tokens("我2023年签") == ["我", "2023", "年", "签"]
    assert search.tokens("在ABC公司") == ["在", "abc", "公", "司"]
    assert search.tokens("１２个工人") == ["12", "个", "工", "人"]  # full-width digits too
    assert search.lexemes(search.tokens("2023年签的")) == ["2023", "年签", "签的"]
    # A number beside Han is two lexemes: their order is checked on the text.
    assert len(search._pg_match(search.tokens("2023年"))) == 2
    # Seven digits or more: a telephone or ID number, hidden, and never searched for.
    hidden = search.NUMBER_HIDDEN
    assert search.tokens("电话13800138000") == ["电", "话", hidden]
    assert search.tokens("11010519491231002X号") == [hidden, "号"]
    assert search.tokens("工号123456") == ["工", "号", "123456"]
    assert not search.searchable(search.tokens("电话13800138000"))
    assert not search.searchable(search.tokens(hidden))
    assert search.searchable(search.tokens("123456"))


@pytest.mark.parametrize("share", [0.0, 1.1])
def test_a_number_or_latin_word_beside_han_is_found_where_it_was_said(
    database_url: str, share: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same answers on SQLite's FTS5 and PostgreSQL's bigrams, a phrase looked for
    newest contact first (share 0: every phrase common) or by its matches (1.1)."""
    monkeypatch.setattr(search, "COMMON_SHARE", share)
    upgrade(database_url)
    store_transcripts(database_url, SAID)
    stored = search_text(database_url)
    assert stored["signed"] == "我 2023 年 签 的 合 同"
    assert "13800138000" not in stored["phone"] and "1101051949" not in stored["id"]
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:

            def newest(words: str) -> list[str]:
                q = select(LedgerContact).order_by(LedgerContact.entered_at.desc()).limit(10)
                found = [c.id for c in s.scalars(search.said_in(s, q, words))]
                matching = s.scalars(search.matching_contacts(s, words)).all()
                assert sorted(matching) == sorted(found), words
                return found

            assert newest("2023年") == ["signed"]  # not 2024年, nor 2023 said apart from 年
            assert newest("2023年签的合同") == ["signed"]
            assert newest("2024年") == ["later"]
            assert newest("2023") == ["apart", "signed"]
            assert newest("年签") == ["later", "signed"]  # Han phrases as before
            assert newest("2023年底") == []  # its digits stand elsewhere
            assert newest("ABC公司") == ["spaced", "company"]
            assert newest("abc 公司") == ["spaced", "company"]
            assert newest("在ABC") == ["company"]
            assert newest("公司上班") == ["company"]
            # Telephone and ID numbers are not searchable, and keep the words apart.
            assert newest("13800138000") == []
            assert newest("电话是13800138000") == []
            assert newest(search.NUMBER_HIDDEN) == []
            assert newest("是明") == []
            assert newest("电话是") == ["phone"]
            assert newest("身份证号") == ["id"]
    finally:
        engine.dispose()


def test_stored_search_text_is_rebuilt_with_its_numbers_and_undone(database_url: str) -> None:
    """Migration 0013 on a ledger whose search text the old tokens wrote (a number or
    Latin word before Han dropped), in several batches: rebuilt from the transcripts'
    lines, found; the downgrade writes the old text back."""
    config = alembic_config(database_url)
    command.upgrade(config, "0012")
    # Three batches of transcripts, each with a number beside Han.
    many = {f"c{i:04d}": f"第{i}号合同" for i in range(2 * 1000 + 5)}
    old = {cid: "第 号 合 同" for cid in many}
    old.update({"signed": "我 年 签 的 合 同", "company": "在 公 司 上 班"})
    said = {**many, "signed": SAID["signed"], "company": SAID["company"]}
    # A number with no Han after it was kept whole, a telephone number too.
    said["phone"], old["phone"] = "我的13800138000", "我 的 13800138000"
    store_transcripts(database_url, said, bodies=old)
    assert search_text(database_url) == old

    upgrade(database_url)
    rebuilt = search_text(database_url)
    assert rebuilt == {cid: search.search_body([line]) for cid, line in said.items()}
    assert rebuilt["c2004"] == "第 2004 号 合 同"
    assert rebuilt["phone"] == f"我 的 {search.NUMBER_HIDDEN}"
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as s:

            def found(words: str) -> list[str]:
                return sorted(s.scalars(search.matching_contacts(s, words)))

            assert found("2023年") == ["signed"]
            assert found("ABC公司") == ["company"]
            assert found("第1999号") == ["c1999"]
            assert len(found("号合同")) == len(many)
    finally:
        engine.dispose()
    if database_url.startswith("postgresql"):
        command.check(config)  # the models agree with the migrations

    command.downgrade(config, "0012")
    assert search_text(database_url) == old
    upgrade(database_url)
    assert search_text(database_url) == rebuilt
