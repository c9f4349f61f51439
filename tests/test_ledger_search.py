"""Words in transcripts beside numbers and Latin words, on both databases, and
migration 0013, which rebuilt the search text stored before them (cases/search.py)."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, select, text

from lawline.cases import search, search_index
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


@pytest.mark.parametrize("plan", ["index", "walk", "matches"])
def test_a_number_or_latin_word_beside_han_is_found_where_it_was_said(
    database_url: str, plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same answers on SQLite's FTS5 and PostgreSQL's bigrams, by each plan a
    PostgreSQL search may take: contacts walked newest first (every phrase common), a
    phrase's matches newest first from the RUM index (every phrase rare), or, on a
    server without RUM, its matches from the GIN index."""
    for name in ("COMMON_SHARE", "COMMON_SHARE_WITH_RUM"):
        monkeypatch.setattr(search, name, 0.0 if plan == "walk" else 1.1)
    if plan == "matches":
        monkeypatch.setattr(search, "has_newest_index", lambda conn: False)
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


def test_postgresql_gives_a_phrases_newest_first_from_its_index(postgres_url: str) -> None:
    """Where lawline may add RUM, the migration gives the search its newest-first index
    (in place of GIN) and a search takes the newest matches from it, LIMIT honoured."""
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert search_index.has_newest_index(conn)
            names = {i["name"] for i in inspect(conn).get_indexes("contact_search")}
            assert search_index.GIN_INDEX not in names  # the RUM index answers @@ too
        store_transcripts(postgres_url, {f"c{i:03d}": f"第{i}次说到彩礼" for i in range(30)})
        with session_factory(engine)() as s:
            q = select(LedgerContact).order_by(LedgerContact.entered_at.desc()).limit(5)
            stmt = search.said_in(s, q, "彩礼")
            sql = str(stmt.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
            # Thirty rows are read faster whole; the question is whether the index can
            # give the order, as it does at a million.
            s.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(s.execute(text("EXPLAIN " + sql)).scalars())
            assert "Sort" not in plan, plan
            assert search_index.NEWEST_INDEX in plan, plan
            found = [c.id for c in s.scalars(search.said_in(s, q, "彩礼"))]
            assert found == ["c029", "c028", "c027", "c026", "c025"]
    finally:
        engine.dispose()


def test_a_postgresql_role_that_may_not_add_rum_keeps_searching_with_gin(
    postgres_server: str,
) -> None:
    """A role that may not create extensions (a managed PostgreSQL's, say): the
    migration keeps the GIN index instead of failing, and phrases are still found,
    newest first."""
    import psycopg

    base = postgres_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute("CREATE ROLE clerk LOGIN NOSUPERUSER")
        conn.execute("CREATE DATABASE clerks OWNER clerk")
    url = postgres_server.replace("://lawline@", "://clerk@") + "/clerks"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert not search_index.has_newest_index(conn)
            names = {i["name"] for i in inspect(conn).get_indexes("contact_search")}
            assert search_index.GIN_INDEX in names
        store_transcripts(url, {f"c{i:03d}": f"第{i}次说到彩礼" for i in range(30)})
        with session_factory(engine)() as s:
            q = select(LedgerContact).order_by(LedgerContact.entered_at.desc()).limit(3)
            assert [c.id for c in s.scalars(search.said_in(s, q, "彩礼"))] == [
                "c029",
                "c028",
                "c027",
            ]
    finally:
        engine.dispose()


def test_search_index_builds_the_newest_first_index_once_the_server_has_rum(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A centre whose PostgreSQL gained RUM after migrating: `lawline search-index`
    builds the index in the GIN index's place, and says so; run again, it changes
    nothing."""
    from typer.testing import CliRunner

    from lawline.cli import app

    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            search_index.drop_newest_index(conn)  # as a server without RUM left it
            assert not search_index.has_newest_index(conn)
        monkeypatch.setenv("LAWLINE_DATABASE_URL", postgres_url)
        for _ in range(2):
            result = CliRunner().invoke(app, ["search-index"])
            assert result.exit_code == 0, result.output
            assert "newest first" in result.output
        with engine.connect() as conn:
            assert search_index.has_newest_index(conn)
            names = {i["name"] for i in inspect(conn).get_indexes("contact_search")}
            assert search_index.GIN_INDEX not in names
    finally:
        engine.dispose()
