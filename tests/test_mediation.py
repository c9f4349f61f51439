"""Mediation cases on a real app, a real Redis and both databases (SQLite and a private
PostgreSQL): opened by a mediator with the parties and how each is reached, kept as a
case of the ledger (owner, deadline, audit trail), ended with the outcome and the
agreed terms, and counted in the monthly figures."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import pytest

from lawline.cases.access import Actor
from lawline.cases.settings import CaseSettings, RetentionSettings
from lawline.config import Settings
from lawline.db import make_engine, session_factory, upgrade
from lawline.mediation.service import (
    MediationFields,
    Outcome,
    PartyFields,
    PartyRole,
    Reach,
    get_mediation,
    open_mediation,
    record_outcome,
)
from lawline.mediation.settings import MediationSettings
from lawline.retention import purge
from lawline.web.auth import Role
from tests.lawline_server import Running, running_lawline

APPLICANT = {"name": "李桂兰", "role": "applicant", "reach": "phone", "phone": "13912345678"}
RESPONDENT = {"name": "张建国", "role": "respondent", "reach": "terminal", "terminal_id": "dalai-1"}
NEIGHBOUR = {"name": "王大妈", "role": "third_party", "reach": "link"}
TERMINAL = {"id": "dalai-1", "village": "大赖村", "township": "大赖镇", "language": "zh"}
DISPUTE = {
    "domain": "neighbour",
    "summary": "宅基地边界的围墙纠纷",
    "scheduled_at": "2026-12-10T09:30:00+08:00",
    "parties": [APPLICANT, RESPONDENT, NEIGHBOUR],
}
TERMS = [
    {"text": "张建国拆除越界围墙一米", "how": "自行拆除", "by": "2026年12月31日前"},
    {"text": "李桂兰承担拆除费用的一半", "how": "现金", "by": "拆除后三日内"},
]


@pytest.fixture
async def lawline(
    clean_redis_url: str, tmp_path: Path, database_url: str
) -> AsyncIterator[Running]:
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        database_url=database_url,
        cases=CaseSettings(deadline_days={"simple": 1, "general": 7, "complex": 30}),
        mediation=MediationSettings(committee="大赖镇人民调解委员会"),
    )
    async with running_lawline(settings, clean_redis_url) as running:
        async with running.client("root", Role.ADMIN) as admin:
            r = await admin.post("/api/terminals", json=TERMINAL)
            assert r.status_code == 201, r.text
            r = await admin.post(
                "/api/users",
                json={"username": "chen", "role": "mediator", "password": "a long password 1"},
            )
            assert r.status_code == 201, r.text
        yield running


async def opened(lawline: Running, mediator: str = "liu", **changes: Any) -> dict[str, Any]:
    async with lawline.client(mediator, Role.MEDIATOR) as http:
        r = await http.post("/api/mediations", json=DISPUTE | changes)
        assert r.status_code == 201, r.text
        return dict(r.json())


async def test_a_mediator_opens_a_mediation_that_is_a_case_of_their_own(
    lawline: Running,
) -> None:
    before = datetime.now(UTC)
    m = await opened(lawline)
    case = m["case"]
    assert case["service"] == "mediation" and case["owner"] == "liu"
    assert case["status"] == "open" and case["citizen_name"] == "李桂兰"
    assert case["citizen_number"] == "13912345678"  # the case is found by the applicant
    deadline = datetime.fromisoformat(case["deadline"])
    assert timedelta(days=30) <= deadline - before < timedelta(days=30, minutes=1)
    assert m["state"] == "scheduled"
    assert datetime.fromisoformat(m["scheduled_at"]) == datetime(2026, 12, 10, 1, 30, tzinfo=UTC)
    assert [(p["name"], p["role"], p["reach"]) for p in m["parties"]] == [
        ("李桂兰", "applicant", "phone"),
        ("张建国", "respondent", "terminal"),
        ("王大妈", "third_party", "link"),
    ]
    assert m["parties"][0]["phone"] == "13912345678"  # its mediator dials it
    assert m["parties"][1]["terminal_id"] == "dalai-1"

    async with lawline.client("liu", Role.MEDIATOR) as liu:
        mine = (await liu.get("/api/mediations")).json()
        assert [x["id"] for x in mine] == [case["id"]]
        assert (await liu.get(f"/api/mediations/{case['id']}")).status_code == 200
        # It is a case like any other: the ledger's case view reads it too.
        r = await liu.get(f"/api/cases/{case['id']}")
        assert r.status_code == 200 and r.json()["service"] == "mediation"
    async with lawline.client("chen", Role.MEDIATOR) as chen:
        assert (await chen.get(f"/api/mediations/{case['id']}")).status_code == 403
        assert (await chen.get("/api/mediations")).json() == []
    async with lawline.client("wang", Role.LAWYER) as lawyer:
        assert (await lawyer.get("/api/mediations")).status_code == 403
        assert (await lawyer.post("/api/mediations", json=DISPUTE)).status_code == 403
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        assert [x["id"] for x in (await boss.get("/api/mediations")).json()] == [case["id"]]
        trail = (await boss.get(f"/api/cases/{case['id']}/audit")).json()
        assert [(e["actor"], e["action"]) for e in trail][:2] == [("liu", "open"), ("liu", "read")]


async def test_a_supervisor_opens_one_for_a_mediator_and_only_for_a_mediator(
    lawline: Running,
) -> None:
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.post("/api/mediations", json=DISPUTE | {"mediator": "chen"})
        assert r.status_code == 201, r.text
        assert r.json()["case"]["owner"] == "chen" and r.json()["case"]["opened_by"] == "boss"
        r = await boss.post("/api/mediations", json=DISPUTE | {"mediator": "root"})
        assert r.status_code == 409 and "调解员" in r.json()["detail"]
    async with lawline.client("liu", Role.MEDIATOR) as liu:
        r = await liu.post("/api/mediations", json=DISPUTE | {"mediator": "chen"})
        assert r.status_code == 403


@pytest.mark.parametrize(
    ("parties", "status", "says"),
    [
        ([APPLICANT], 422, "parties"),
        ([APPLICANT, NEIGHBOUR], 409, "被申请人"),
        ([APPLICANT | {"phone": ""}, RESPONDENT], 409, "电话号码"),
        ([APPLICANT, RESPONDENT | {"terminal_id": "nowhere-9"}], 409, "村务终端"),
        ([APPLICANT, RESPONDENT | {"terminal_id": "../etc"}], 422, "terminal_id"),
        ([APPLICANT | {"phone": "139-1234-5678; DROP"}, RESPONDENT], 422, "phone"),
        ([APPLICANT | {"name": "李\n桂兰"}, RESPONDENT], 422, "name"),
        ([APPLICANT | {"name": "李" * 51}, RESPONDENT], 422, "name"),
        ([APPLICANT | {"role": "judge"}, RESPONDENT], 422, "role"),
        ([APPLICANT, RESPONDENT] + [NEIGHBOUR] * 6, 422, "parties"),
    ],
)
async def test_parties_are_checked_where_they_enter(
    lawline: Running, parties: list[dict[str, Any]], status: int, says: str
) -> None:
    async with lawline.client("liu", Role.MEDIATOR) as liu:
        r = await liu.post("/api/mediations", json=DISPUTE | {"parties": parties})
        assert r.status_code == status, r.text
        assert says in r.text
        assert "DROP" not in r.text  # a bad number is never repeated back
        assert (await liu.get("/api/mediations")).json() == []  # nothing half made


async def test_parties_and_schedule_change_until_the_outcome_closes_the_case(
    lawline: Running,
) -> None:
    m = await opened(lawline)
    cid = m["case"]["id"]
    async with lawline.client("liu", Role.MEDIATOR) as liu:
        r = await liu.put(
            f"/api/mediations/{cid}/parties", json={"parties": [APPLICANT, RESPONDENT]}
        )
        assert r.status_code == 200 and len(r.json()["parties"]) == 2
        r = await liu.put(f"/api/mediations/{cid}/schedule", json={"scheduled_at": None})
        assert r.status_code == 200 and r.json()["scheduled_at"] is None

        r = await liu.post(f"/api/mediations/{cid}/outcome", json={"outcome": "agreement"})
        assert r.status_code == 409 and "协议内容" in r.json()["detail"]
        r = await liu.post(
            f"/api/mediations/{cid}/outcome",
            json={"outcome": "none", "terms": TERMS},
        )
        assert r.status_code == 422
        facts = "双方宅基地相邻，张建国所建围墙越过边界约一米，双方对拆除费用有争议。"
        r = await liu.post(
            f"/api/mediations/{cid}/outcome",
            json={"outcome": "agreement", "facts": facts, "terms": TERMS},
        )
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["state"] == "closed" and done["outcome"] == "agreement"
        assert done["terms"] == TERMS and done["facts"] == facts
        assert done["case"]["status"] == "closed" and done["case"]["closed_at"]

        # Closed is closed: nothing more changes it.
        r = await liu.put(
            f"/api/mediations/{cid}/parties", json={"parties": [APPLICANT, RESPONDENT]}
        )
        assert r.status_code == 409
        r = await liu.post(f"/api/mediations/{cid}/outcome", json={"outcome": "none"})
        assert r.status_code == 409
    async with lawline.client("chen", Role.MEDIATOR) as chen:
        r = await chen.post(f"/api/mediations/{cid}/outcome", json={"outcome": "none"})
        assert r.status_code == 403


async def test_the_monthly_figures_count_disputes_mediated_and_agreements(
    lawline: Running,
) -> None:
    for outcome in ("agreement", "partial", "none"):
        m = await opened(lawline)
        body: dict[str, Any] = {"outcome": outcome}
        if outcome != "none":
            body |= {"facts": "事实与争议", "terms": TERMS[:1]}
        async with lawline.client("liu", Role.MEDIATOR) as liu:
            r = await liu.post(f"/api/mediations/{m['case']['id']}/outcome", json=body)
            assert r.status_code == 200, r.text
    await opened(lawline)  # still scheduled: not counted
    today = datetime.now(UTC)
    span = {
        "since": (today - timedelta(days=1)).isoformat(),
        "until": (today + timedelta(days=1)).isoformat(),
    }
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        r = await boss.get("/api/ledger/figures", params=span)
        assert r.status_code == 200, r.text
        figures = r.json()
    assert figures["disputes_mediated"] == 3
    assert figures["agreements_reached"] == 2


def docx_text(body: bytes) -> str:
    return "\n".join(p.text for p in docx.Document(io.BytesIO(body)).paragraphs)


async def test_the_agreement_is_written_from_the_centres_template_as_word_and_pdf(
    lawline: Running, tmp_path: Path
) -> None:
    m = await opened(lawline)
    cid = m["case"]["id"]
    facts = "张建国所建围墙越过宅基地边界约一米。"
    async with lawline.client("liu", Role.MEDIATOR) as liu:
        r = await liu.get(f"/api/mediations/{cid}/agreement.docx")
        assert r.status_code == 409  # nothing agreed yet
        r = await liu.post(
            f"/api/mediations/{cid}/outcome",
            json={"outcome": "agreement", "facts": facts, "terms": TERMS},
        )
        assert r.status_code == 200, r.text

        r = await liu.get(f"/api/mediations/{cid}/agreement.docx")
        assert r.status_code == 200, r.text
        assert r.headers["content-disposition"].endswith(f'mediation-agreement-{cid}.docx"')
        text = docx_text(r.content)
        assert "人民调解协议书" in text and f"编号：{cid}" in text
        assert "申请人：李桂兰" in text and "被申请人：张建国" in text and "第三人：王大妈" in text
        assert facts in text
        assert "1. 张建国拆除越界围墙一米；履行方式：自行拆除；履行期限：2026年12月31日前。" in text
        assert "经大赖镇人民调解委员会调解，各方当事人自愿达成协议如下：" in text
        assert "三十日内" in text and "司法确认" in text  # the parties are told (Art. 33)

        r = await liu.get(f"/api/mediations/{cid}/agreement.pdf")
        assert r.status_code == 200 and r.content.startswith(b"%PDF-")
        assert r.content.count(b"/Type /Page\n") >= 1

        # The centre's own wording: its edited template is the one used.
        template = tmp_path / "templates" / "mediation-agreement.docx"
        assert template.exists()  # written from lawline's default on first use
        own = docx.Document()
        own.add_paragraph("{{ committee }} 调解协议 {{ case_number }}")
        own.add_paragraph("{%p for t in terms %}")
        own.add_paragraph("第{{ t.n }}条 {{ t.text }}（{{ t.by }}）")
        own.add_paragraph("{%p endfor %}")
        own.save(template)
        text = docx_text((await liu.get(f"/api/mediations/{cid}/agreement.docx")).content)
        assert text.splitlines() == [
            f"大赖镇人民调解委员会 调解协议 {cid}",
            "第1条 张建国拆除越界围墙一米（2026年12月31日前）",
            "第2条 李桂兰承担拆除费用的一半（拆除后三日内）",
        ]
        broken = docx.Document()
        broken.add_paragraph("{{ case_number ")
        broken.save(template)
        r = await liu.get(f"/api/mediations/{cid}/agreement.docx")
        assert r.status_code == 409 and "template" in r.json()["detail"]
    async with lawline.client("chen", Role.MEDIATOR) as chen:
        assert (await chen.get(f"/api/mediations/{cid}/agreement.pdf")).status_code == 403
    async with lawline.client("boss", Role.SUPERVISOR) as boss:
        trail = (await boss.get(f"/api/cases/{cid}/audit")).json()
        exports = [e["detail"] for e in trail if e["action"] == "export"]
        assert "mediation agreement pdf" in exports and "mediation agreement docx" in exports


def test_a_partys_number_is_kept_no_longer_than_the_retention_period(
    database_url: str, tmp_path: Path
) -> None:
    """The parties' phone numbers go once the mediation ended longer ago than
    `contact_details_days`; their names stay (the agreement's, in the archive)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    mediator = Actor("liu")
    parties = [
        PartyFields("李桂兰", PartyRole.APPLICANT, Reach.PHONE, phone="13912345678"),
        PartyFields("张建国", PartyRole.RESPONDENT, Reach.HALL, phone="13800138000"),
    ]
    ids = {}
    try:
        for name, ended in (("old", now - timedelta(days=400)), ("new", now - timedelta(days=3))):
            with sessions() as s, s.begin():
                record = open_mediation(
                    s,
                    MediationFields(parties=parties),
                    mediator,
                    ended - timedelta(days=1),
                    CaseSettings(),
                    tz=UTC,
                )
                ids[name] = record.case.id
                record_outcome(s, record.case.id, Outcome.NONE, "", [], mediator, ended)
        with sessions() as s, s.begin():
            purged = purge(s, RetentionSettings(contact_details_days=365), tmp_path, now)
        assert purged.mediation_numbers == 2
        with sessions() as s:
            numbers = {
                name: [p.phone for p in get_mediation(s, cid, mediator, now, audit=False).parties]
                for name, cid in ids.items()
            }
            names = [p.name for p in get_mediation(s, ids["old"], mediator, now).parties]
        assert numbers == {"old": ["", ""], "new": ["13912345678", "13800138000"]}
        assert names == ["李桂兰", "张建国"]
    finally:
        engine.dispose()
