"""The statutes pack parsed (every file) and imported into the knowledge base."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from lawline.cli import app
from lawline.db import make_engine, session_factory, upgrade
from lawline.statutes.models import StatuteArticle, StatuteInstrument
from lawline.statutes.numerals import to_chinese, to_int
from lawline.statutes.parse import StatuteFormatError, parse_file, parse_text
from lawline.statutes.store import import_dir, import_shipped_pack, shipped_pack

PACK = shipped_pack()
NOW = datetime(2026, 12, 3, tzinfo=UTC)

# Articles per file of the pack, counted from the national database's texts.
ARTICLES = {
    "司法解释_最高人民法院关于审理人身损害赔偿案件适用法律若干问题的解释(2022-04-24)": 24,
    "司法解释_最高人民法院关于审理劳动争议案件适用法律问题的解释（一）(2020-12-29)": 54,
    "司法解释_最高人民法院关于审理民间借贷案件适用法律若干问题的规定(2020-12-29)": 31,
    "司法解释_最高人民法院关于审理道路交通事故损害赔偿案件适用法律若干问题的解释(2020-12-29)": 26,
    "司法解释_最高人民法院关于适用《民法典》婚姻家庭编的解释（一）(2020-12-29)": 91,
    "民法典_人格权编": 51,
    "民法典_侵权责任编": 95,
    "民法典_合同编": 526,
    "民法典_婚姻家庭编": 79,
    "民法典_总则": 204,
    "民法典_物权编": 258,
    "民法典_继承编": 45,
    "民法典_附则": 2,
    "民法商法_农村土地承包法(2018-12-29)": 70,
    "民法商法_消费者权益保护法(2013-10-25)": 63,
    "民法商法_电子商务法(2018-08-31)": 89,
    "社会法_劳动合同法(2012-12-28)": 98,
    "社会法_劳动法(2018-12-29)": 107,
    "社会法_反家庭暴力法(2015-12-27)": 38,
    "社会法_妇女权益保障法(2022-10-30)": 86,
    "社会法_未成年人保护法(2024-04-26)": 132,
    "社会法_残疾人保障法(2018-10-26)": 68,
    "社会法_社会保险法(2018-12-29)": 98,
    "社会法_老年人权益保障法(2018-12-29)": 85,
    "经济法_产品质量法(2018-12-29)": 74,
    "行政法_公证法(2017-09-01)": 47,
    "行政法_土地管理法(2019-08-26)": 87,
    "行政法_治安管理处罚法(2012-10-26)": 119,
    "行政法_法律援助法(2021-08-20)": 71,
    "行政法_道路交通安全法(2021-04-29)": 124,
    "行政法规_保障农民工工资支付条例(2019-12-30)": 64,
    "行政法规_信访工作条例(2022-02-25)": 50,
    "行政法规_劳动合同法实施条例(2008-09-18)": 38,
    "行政法规_国有土地上房屋征收与补偿条例(2011-01-21)": 35,
    "行政法规_土地管理法实施条例(2021-07-02)": 67,
    "行政法规_工伤保险条例(2010-12-20)": 67,
    "行政法规_工资支付暂行规定(1994-12-06)": 20,
    "行政法规_物业管理条例(2018-03-19)": 67,
    "行政法规_道路交通安全法实施条例(2017-10-07)": 115,
    "诉讼与非诉讼程序法_人民调解法(2010-08-28)": 35,
    "诉讼与非诉讼程序法_仲裁法(2017-09-01)": 80,
    "诉讼与非诉讼程序法_农村土地承包经营纠纷调解仲裁法(2009-06-27)": 53,
    "诉讼与非诉讼程序法_劳动争议调解仲裁法(2007-12-29)": 54,
    "诉讼与非诉讼程序法_民事诉讼法(2021-12-24)": 291,
}


def test_the_pack_ships_every_instrument() -> None:
    assert sorted(p.stem for p in PACK.glob("*_*.md")) == sorted(ARTICLES)


@pytest.mark.parametrize("name", sorted(ARTICLES))
def test_every_article_of_every_instrument_is_parsed_in_order(name: str) -> None:
    instrument = parse_file(PACK / f"{name}.md")
    numbers = [a.number for a in instrument.articles]
    assert len(numbers) == ARTICLES[name]
    # Numbered one after another: no article lost or split in two.
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert all(a.label == f"第{to_chinese(a.number)}条" and a.text for a in instrument.articles)
    assert instrument.level in ("法律", "行政法规", "司法解释")
    assert instrument.version is not None


def test_the_civil_code_is_one_law_in_eight_books() -> None:
    books = [parse_file(p) for p in PACK.glob("民法典_*.md")]
    assert {b.short_title for b in books} == {"民法典"}
    assert {b.part for b in books} == {
        "总则", "物权编", "合同编", "人格权编", "婚姻家庭编", "继承编", "侵权责任编", "附则",
    }  # fmt: skip
    numbers = sorted(a.number for b in books for a in b.articles)
    assert numbers == list(range(1, 1261))


def test_short_titles_drop_the_state_name_but_interpretations_keep_theirs() -> None:
    law = parse_file(PACK / "社会法_劳动合同法(2012-12-28).md")
    assert (law.title, law.short_title) == ("中华人民共和国劳动合同法", "劳动合同法")
    assert law.version == date(2012, 12, 28)
    interpretation = parse_file(
        PACK / "司法解释_最高人民法院关于审理劳动争议案件适用法律问题的解释（一）(2020-12-29).md"
    )
    assert interpretation.short_title == "最高人民法院关于审理劳动争议案件适用法律问题的解释（一）"
    # Its preamble (before 第一条) is no article's text.
    assert interpretation.articles[0].text.startswith("劳动者与用人单位之间发生的下列纠纷")


def test_an_article_keeps_all_its_paragraphs() -> None:
    law = parse_file(PACK / "社会法_劳动合同法(2012-12-28).md")
    article = law.articles[37]
    assert article.label == "第三十八条"
    paragraphs = article.text.split("\n")
    assert len(paragraphs) == 8
    assert paragraphs[0].startswith("用人单位有下列情形之一的，劳动者可以解除劳动合同")
    assert paragraphs[2] == "（二）未及时足额支付劳动报酬的；"
    assert paragraphs[-1].endswith("不需事先告知用人单位。")
    assert article.chapter == "第四章 劳动合同的解除和终止"
    assert law.articles[38].text.startswith("劳动者有下列情形之一的，用人单位可以解除劳动合同")


def test_chapters_and_sections_are_those_above_the_article() -> None:
    contracts = parse_file(PACK / "民法典_合同编.md")
    by_number = {a.number: a for a in contracts.articles}
    assert by_number[681].chapter == "第二分编 典型合同 · 第十三章 保证合同"
    assert by_number[681].section == "第一节 一般规定"
    # The next chapter has no section: the one above does not leak into it.
    assert by_number[703].chapter == "第二分编 典型合同 · 第十四章 租赁合同"
    assert by_number[703].section == ""
    procedure = parse_file(PACK / "诉讼与非诉讼程序法_民事诉讼法(2021-12-24).md")
    first = {a.number: a for a in procedure.articles}[18]
    assert (first.chapter, first.section) == ("第一编 总 则 · 第二章 管 辖", "第一节 级别管辖")
    marriage = parse_file(
        PACK / "司法解释_最高人民法院关于适用《民法典》婚姻家庭编的解释（一）(2020-12-29).md"
    )
    chapters = {a.number: a.chapter for a in marriage.articles}
    assert (chapters[5], chapters[6]) == ("一、一般规定", "二、结婚")


def test_numerals_both_ways() -> None:
    for n in (1, 10, 11, 20, 38, 101, 110, 1040, 1260):
        assert to_int(to_chinese(n)) == n
    assert to_int("一千二百五十九") == 1259
    assert to_int("38") == 38
    with pytest.raises(ValueError):
        to_int("三十八条")


def test_a_file_not_in_the_format_is_refused() -> None:
    with pytest.raises(StatuteFormatError):
        parse_text("# 某条例\n\n第一条 没有信息结束行。\n", "地方性法规_某条例")
    with pytest.raises(StatuteFormatError):
        parse_text("# 某条例\n<!-- INFO END -->\n没有条文。\n", "地方性法规_某条例")


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return (
                session.scalar(select(func.count()).select_from(StatuteInstrument)) or 0,
                session.scalar(select(func.count()).select_from(StatuteArticle)) or 0,
            )
    finally:
        engine.dispose()


REGIONAL = """# 内蒙古自治区农村牧区宅基地管理条例

2020年1月1日 内蒙古自治区人民代表大会常务委员会通过

<!-- INFO END -->

## 第一章 总则

第一条 为了规范宅基地管理，制定本条例。

第二条 农村牧区村民一户只能拥有一处宅基地。

第二款 是第二条的第二段。
"""


def test_import_is_idempotent_and_a_newer_version_replaces_the_older(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lawline.db'}"
    upgrade(url)
    engine = make_engine(url)
    db = session_factory(engine)
    try:
        with db() as session, session.begin():
            first = import_shipped_pack(session, NOW)
        assert first is not None and len(first.added) == len(ARTICLES)
        assert _counts(url) == (len(ARTICLES), sum(ARTICLES.values()))
        with db() as session, session.begin():
            assert import_shipped_pack(session, NOW) is None  # not at the next start
            again = import_dir(session, PACK, NOW)
        assert len(again.unchanged) == len(ARTICLES) and not again.articles_changed
        assert _counts(url) == (len(ARTICLES), sum(ARTICLES.values()))

        # A centre's regional regulation, then a newer text of it, then an older one.
        folder = tmp_path / "regional"
        folder.mkdir()
        (folder / "地方性法规_宅基地管理条例(2020-01-01).md").write_text(REGIONAL)
        (folder / "notes.md").write_text("# not an instrument\n")
        with db() as session, session.begin():
            added = import_dir(session, folder, NOW)
        assert len(added.added) == 1 and [r[0] for r in added.refused] == ["notes.md"]
        newer = tmp_path / "newer"
        newer.mkdir()
        text = REGIONAL + "\n第三条 本条例自公布之日起施行。\n"
        (newer / "地方性法规_宅基地管理条例(2024-05-01).md").write_text(text)
        with db() as session, session.begin():
            assert len(import_dir(session, newer, NOW).replaced) == 1
        older = tmp_path / "older"
        older.mkdir()
        shutil.copy(folder / "地方性法规_宅基地管理条例(2020-01-01).md", older)
        with db() as session, session.begin():
            assert len(import_dir(session, older, NOW).older) == 1
        with db() as session:
            row = session.scalars(
                select(StatuteInstrument).where(StatuteInstrument.short_title.like("内蒙古%"))
            ).one()
            assert (row.level, row.version) == ("地方性法规", date(2024, 5, 1))
            articles = session.scalars(
                select(StatuteArticle)
                .where(StatuteArticle.instrument_id == row.id)
                .order_by(StatuteArticle.number)
            ).all()
            assert [a.label for a in articles] == ["第一条", "第二条", "第三条"]
            second = "农村牧区村民一户只能拥有一处宅基地。\n第二款 是第二条的第二段。"
            assert articles[1].text == second
    finally:
        engine.dispose()


def test_the_import_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAWLINE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    out = runner.invoke(app, ["statutes", "import", str(PACK)])
    assert out.exit_code == 0, out.output
    assert "added 44" in out.output
    out = runner.invoke(app, ["statutes", "import", str(PACK)])
    assert "unchanged 44" in out.output
    out = runner.invoke(app, ["statutes", "import", str(tmp_path / "nowhere")])
    assert out.exit_code == 1 and "not a folder" in out.output
