"""Statute hints from what callers say, over the shipped pack: the question sets in
tests/hints, articles named aloud, recogniser errors, the contact's domain, the commands."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import astuple
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lawline.cli import app
from lawline.config import Settings
from lawline.db import make_engine, session_factory, upgrade
from lawline.hints import index as hints_index
from lawline.hints import service as hints_service
from lawline.hints import stored
from lawline.hints.asked import ASKED
from lawline.hints.citation import Citation, parse_written
from lawline.hints.evaluate import figures, read_questions, run
from lawline.hints.index import HintIndex
from lawline.hints.segment import Segmenter, private_cache_dir
from lawline.hints.service import StatuteHints
from lawline.queue.skills import Domain
from lawline.statutes.store import import_dir, import_shipped_pack
from tests.lawline_server import running_lawline

QUESTIONS = Path(__file__).parent / "hints"
NOW = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('hints') / 'lawline.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session, session.begin():
        import_shipped_pack(session, NOW)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def hints(database: str) -> Iterator[StatuteHints]:
    engine = make_engine(database)
    hints = StatuteHints(session_factory(engine))
    hints.suggest("预热")  # the index is built once per process, not in a question's time
    yield hints
    engine.dispose()


def cited(hints: list[hints_service.Hint]) -> list[str]:
    return [h.citation for h in hints]


# Today's figures, as floors: a change that loses questions fails here. The aim is 0.8
# on questions not tuned on: heldout6 to heldout8 were written apart from the code and
# the other sets, and each first run once the change it checks was done (the README
# says which set saw what; bench/hints_bench.py prints them all).
FLOORS = {
    "questions": 0.93,
    "heldout": 0.92,
    "heldout2": 0.95,
    "heldout3": 0.9,
    "heldout4": 0.93,
    "heldout5": 1.0,
    "heldout6": 0.82,
    "heldout7": 0.8,
    "heldout8": 0.8,
}
HELD_OUT = tuple(name for name in FLOORS if name != "questions")


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_callers_questions_find_their_articles(hints: StatuteHints, name: str) -> None:
    questions = read_questions(QUESTIONS / f"{name}.tsv")
    outcome = figures(run(questions, lambda said: hints.suggest(said, None, 10)))
    assert outcome.recall_at_3 >= FLOORS[name], outcome
    assert outcome.p99_ms < 100, outcome


@pytest.fixture(scope="module")
def pack_index(database: str, hints: StatuteHints) -> Iterator[HintIndex]:
    engine = make_engine(database)
    with session_factory(engine)() as session:
        yield hints.index(session)
    engine.dispose()


def test_every_asked_question_belongs_to_an_article_of_the_pack(pack_index: HintIndex) -> None:
    """A lawyer's line in asked.py that names no article (a typo, a renumbered newer
    version) would silently weigh nothing."""
    articles = {(d.law, d.number) for d in pack_index.docs}
    missing = [w for w in ASKED if astuple(parse_written(w)) not in articles]
    assert not missing


def test_how_a_caller_asks_finds_the_article_the_law_words_otherwise(
    pack_index: HintIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing said is the statute's wording (未依法为劳动者缴纳社会保险费, 劳动者可以解除
    # 劳动合同): asked.py's questions about Article 38 bring it, and without them it is
    # not among the three (the social insurance law's articles are).
    said, article = "饭店老板不给交保险我想走人", ("劳动合同法", 38)

    def top(index: HintIndex) -> list[tuple[str, int]]:
        by_id = {d.id: (d.law, d.number) for d in index.docs}
        return [by_id[r.article_id] for r in index.search(said)]

    assert article in top(pack_index)
    monkeypatch.setattr(hints_index, "ASKED", {})
    assert article not in top(HintIndex(pack_index.docs))


def test_every_question_set_has_its_floor() -> None:
    assert {p.stem for p in QUESTIONS.glob("*.tsv")} == set(FLOORS)


def test_the_held_out_sets_share_no_question_with_the_tuned_one() -> None:
    texts = {name: {q.text for q in read_questions(QUESTIONS / f"{name}.tsv")} for name in FLOORS}
    assert not texts["questions"] & set().union(*(texts[name] for name in HELD_OUT))


@pytest.mark.parametrize(
    ("said", "article"),
    [
        ("劳动合同法第三十八条是怎么规定的", "《劳动合同法》第三十八条"),
        ("你看一下民法典1079条", "《民法典》第一千零七十九条"),
        ("工伤保险条例十四条讲的什么", "《工伤保险条例》第十四条"),
        # The longer name wins: not the Labour Contract Law's article 5.
        ("劳动合同法实施条例第五条", "《劳动合同法实施条例》第五条"),
        ("中华人民共和国劳动法第四十四条", "《劳动法》第四十四条"),
    ],
)
def test_an_article_named_aloud_comes_first(hints: StatuteHints, said: str, article: str) -> None:
    got = hints.suggest(said)
    assert got[0].citation == article and got[0].spoken


def test_an_article_the_pack_does_not_have_is_not_made_up(hints: StatuteHints) -> None:
    got = hints.suggest("劳动合同法第九百条")
    assert all(not h.spoken for h in got)


def test_the_recogniser_s_wrong_characters_still_find_the_law(hints: StatuteHints) -> None:
    # 工伤认定 heard as 工商认定, 仲裁 as 中裁: they sound the same.
    assert any(h.law == "工伤保险条例" for h in hints.suggest("单位不给我做工商认定"))
    arbitration = hints.suggest("我想申请中裁", Domain.LABOUR)
    assert len(arbitration) == 3 and all("仲裁" in h.text for h in arbitration), arbitration


def test_phrases_of_the_street_reach_the_law_s_words(hints: StatuteHints) -> None:
    assert "《治安管理处罚法》第四十三条" in cited(hints.suggest("跟邻居打架了"))
    assert any(h.law == "物业管理条例" or "物业" in h.text for h in hints.suggest("物业乱收费"))


def test_the_contact_s_domain_ranks_its_laws_first(hints: StatuteHints) -> None:
    said = "对方一直不给钱我想申请仲裁"
    labour = hints.suggest(said, Domain.LABOUR)
    assert labour[0].law in ("劳动争议调解仲裁法", "劳动合同法", "劳动法")
    land = hints.suggest(said, Domain.LAND_HOMESTEAD)
    assert land[0].law == "农村土地承包经营纠纷调解仲裁法"


def test_a_hint_carries_its_citation_and_whole_text(hints: StatuteHints) -> None:
    hint = hints.suggest("劳动合同法第三十八条")[0]
    assert hint.law == "劳动合同法" and hint.article == "第三十八条" and hint.number == 38
    assert hint.text.count("\n") == 7 and "未及时足额支付劳动报酬" in hint.text
    assert hint.title == "中华人民共和国劳动合同法"
    assert hint.chapter == "第四章 劳动合同的解除和终止"
    civil = hints.suggest("民法典第一千零八十七条")[0]
    assert (civil.law, civil.title) == ("民法典", "中华人民共和国民法典 婚姻家庭编")


def test_nothing_said_no_hint(hints: StatuteHints) -> None:
    assert hints.suggest("") == []
    assert hints.suggest("嗯嗯好的") == []


def test_written_citations() -> None:
    assert parse_written("《劳动合同法》第三十八条") == Citation("劳动合同法", 38)
    assert parse_written("《中华人民共和国民法典》第1079条") == Citation("民法典", 1079)
    long = "《最高人民法院关于适用《中华人民共和国民法典》婚姻家庭编的解释（一）》第五条"
    assert parse_written(long).law.endswith("婚姻家庭编的解释（一）")
    assert str(Citation("民法典", 1079)) == "《民法典》第一千零七十九条"
    for bad in ("劳动合同法第三十八条", "《劳动合同法》第三十八款", "《劳动合同法》"):
        with pytest.raises(ValueError):
            parse_written(bad)


def test_a_newer_text_is_what_the_hint_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'lawline.db'}"
    upgrade(url)
    engine = make_engine(url)
    db = session_factory(engine)
    monkeypatch.setattr(hints_service, "RECHECK_S", 0.0)
    try:
        older, newer = tmp_path / "2020", tmp_path / "2024"
        older.mkdir()
        newer.mkdir()
        head = "# 某市养犬管理条例\n\n<!-- INFO END -->\n\n"
        (older / "地方性法规_某市养犬管理条例(2020-01-01).md").write_text(
            head + "第一条 养犬人应当为犬只办理登记。\n"
        )
        (newer / "地方性法规_某市养犬管理条例(2024-01-01).md").write_text(
            head + "第一条 养犬人应当为犬只办理登记并接种狂犬病疫苗。\n"
        )
        hints = StatuteHints(db, keep_in=tmp_path)
        with db() as session, session.begin():
            import_dir(session, older, NOW)
        assert hints.suggest("养犬登记")[0].text == "养犬人应当为犬只办理登记。"
        with db() as session, session.begin():
            import_dir(session, newer, NOW)
        assert "狂犬病疫苗" in hints.suggest("养犬登记")[0].text
    finally:
        engine.dispose()


def test_the_commands(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWLINE_DATABASE_URL", database)
    runner = CliRunner()
    out = runner.invoke(app, ["hints", "suggest", "--json", "公司拖欠工资", "--domain", "labour"])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.output)
    assert len(listed) == 3
    assert all({"law", "article", "text", "score"} <= set(h) for h in listed)
    assert listed[0]["score"] >= listed[-1]["score"]
    out = runner.invoke(app, ["hints", "eval", str(QUESTIONS / "questions.tsv")])
    assert out.exit_code == 0, out.output
    last = out.output.strip().splitlines()[-1]
    assert last.startswith("recall@3=") and " p50_ms=" in last and " p99_ms=" in last
    bad = QUESTIONS.parent / "hints" / "missing.tsv"
    assert runner.invoke(app, ["hints", "eval", str(bad)]).exit_code == 1


def test_jiebas_dictionary_cache_is_kept_where_only_lawline_can_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the shared /tmp, where another local user could leave a cache for it to load."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    Segmenter(["工伤认定"]).words("我要申请工伤认定")
    folder = tmp_path / "cache" / "lawline"
    assert (folder / "jieba.cache").is_file()
    assert folder.stat().st_mode & 0o777 == 0o700
    # A folder others may write to is not used: a private temporary one is.
    folder.chmod(0o777)
    assert private_cache_dir() != str(folder)


class CountedBuilds:
    """HintIndex as service.py makes it, counting how often it is built; `another_process`
    forgets the index this process last had (read back from disk next)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n = 0
        real = hints_service.HintIndex

        def build(docs: list[hints_service.ArticleDoc]) -> hints_service.HintIndex:
            self.n += 1
            return real(docs)

        monkeypatch.setattr(hints_service, "HintIndex", build)
        self.another_process()

    def another_process(self) -> None:
        stored.forget()


def test_the_built_index_is_kept_on_disk_and_read_back(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = CountedBuilds(monkeypatch)
    engine = make_engine(database)
    try:
        first = StatuteHints(session_factory(engine), keep_in=tmp_path)
        first.warm()
        assert builds.n == 1
        (kept,) = tmp_path.glob("hints-index-*.pickle")
        assert kept.stat().st_mode & 0o077 == 0  # the user's alone (mkstemp)
        third = StatuteHints(session_factory(engine), keep_in=tmp_path)
        third.warm()
        assert third._index is first._index  # this process's: shared, not read again
        builds.another_process()
        second = StatuteHints(session_factory(engine), keep_in=tmp_path)
        second.warm()
        assert builds.n == 1 and second._index is not first._index  # read back, not built
        for said in ("老板拖欠了我三个月工资", "离了婚孩子他爹不给抚养费", "民法典1079条"):
            assert cited(second.suggest(said, None, 10)) == cited(first.suggest(said, None, 10))
    finally:
        engine.dispose()


def small_knowledge_base(tmp_path: Path, n: int) -> str:
    """A database holding one instrument of one article, its own for each n."""
    url = f"sqlite:///{tmp_path / f'{n}.db'}"
    upgrade(url)
    laws = tmp_path / f"laws{n}"
    laws.mkdir()
    (laws / f"地方性法规_某市第{n}号条例(2024-01-01).md").write_text(
        f"# 某市第{n}号条例\n\n<!-- INFO END -->\n\n第一条 养犬人应当为犬只办理登记{n}。\n"
    )
    engine = make_engine(url)
    with session_factory(engine)() as session, session.begin():
        import_dir(session, laws, NOW)
    engine.dispose()
    return url


def test_a_stored_index_others_could_write_or_cut_short_is_built_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = CountedBuilds(monkeypatch)
    engine = make_engine(small_knowledge_base(tmp_path, 0))
    folder = tmp_path / "kept"
    folder.mkdir()
    try:
        StatuteHints(session_factory(engine), keep_in=folder).warm()
        (kept,) = folder.glob("hints-index-*.pickle")
        kept.chmod(0o666)
        builds.another_process()
        StatuteHints(session_factory(engine), keep_in=folder).warm()
        assert builds.n == 2
        kept.write_bytes(kept.read_bytes()[:1000])
        builds.another_process()
        hints = StatuteHints(session_factory(engine), keep_in=folder)
        assert hints.suggest("养犬登记")[0].text.endswith("登记0。")
        assert builds.n == 3
        assert kept.stat().st_mode & 0o077 == 0 and len(list(folder.iterdir())) == 1
    finally:
        engine.dispose()


def test_each_knowledge_base_has_its_own_stored_index(tmp_path: Path) -> None:
    folder = tmp_path / "kept"
    folder.mkdir()
    for n in range(stored.KEEP + 1):
        engine = make_engine(small_knowledge_base(tmp_path, n))
        hints = StatuteHints(session_factory(engine), keep_in=folder)
        assert hints.suggest("养犬登记")[0].text.endswith(f"登记{n}。")
        engine.dispose()
    # The most recently used are kept, no more.
    assert len(list(folder.glob("hints-index-*.pickle"))) == stored.KEEP


async def test_the_web_process_builds_the_index_at_start_up(
    clean_redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="test-secret")
    async with running_lawline(settings, clean_redis_url) as running:
        hints: StatuteHints = running.app.state.hints
        for _ in range(600):  # read back from disk in well under a second; built in 2-5 s
            if hints._index is not None:
                break
            await asyncio.sleep(0.1)
        assert hints._index is not None and len(hints._index.docs) > 3900
