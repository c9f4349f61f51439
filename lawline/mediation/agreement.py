"""The mediation agreement (人民调解协议书) as Word and PDF documents.

What it says is what the People's Mediation Law asks of it (Art. 29): the parties,
the main facts, the issues and each side's responsibility, the agreed terms with how
and by when each is performed; it takes effect when the parties sign (or thumb-print)
and the mediator signs under the committee's seal, and the parties may ask a court to
confirm it within 30 days (司法确认, Art. 33).

The Word document comes from a template the centre may edit in Word or WPS: a DOCX
with Jinja tags (docxtpl). lawline writes its default the first time one is needed.
The names a template may use:

    case_number, committee, mediator, date, outcome ("达成协议" or "部分达成协议"),
    oral (an oral agreement, recorded), facts,
    parties: [{name, role ("申请人"...), address}],
    terms: [{n, text, how, by}]

A paragraph holding only `{%p for t in terms %}` ... `{%p endfor %}` repeats what is
between. The PDF is laid out by lawline itself (fpdf2) from the same names, in the
font `mediation.pdf_font`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from docxtpl import DocxTemplate
from fpdf import FPDF
from jinja2 import TemplateError

from lawline import centre_time
from lawline.mediation.service import MediationRecord, Outcome, PartyRole

ROLES = {
    PartyRole.APPLICANT.value: "申请人",
    PartyRole.RESPONDENT.value: "被申请人",
    PartyRole.THIRD_PARTY.value: "第三人",
}
OUTCOMES = {Outcome.AGREEMENT.value: "达成协议", Outcome.PARTIAL.value: "部分达成协议"}
EFFECT = (
    "本协议自各方当事人签名（或按指印）、人民调解员签名并加盖人民调解委员会印章之日起生效。"
    "当事人应当按照约定履行。"
)
CONFIRMATION = (
    "各方当事人可以自本协议生效之日起三十日内，共同向人民法院申请司法确认；"
    "经确认有效的，一方拒绝履行或者未全部履行的，对方可以向人民法院申请强制执行。"
)


class AgreementError(ValueError):
    """No agreement to write (none was reached), or the template cannot be used."""


@dataclass(frozen=True)
class Agreement:
    case_number: str
    committee: str
    mediator: str
    date: str
    outcome: str
    oral: bool
    facts: str
    parties: list[dict[str, str]] = field(default_factory=list)
    terms: list[dict[str, Any]] = field(default_factory=list)
    # The articles the mediator pinned in the room (调解依据): 《民法典》第五百七十七条.
    basis: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        return {
            "case_number": self.case_number,
            "committee": self.committee,
            "mediator": self.mediator,
            "date": self.date,
            "outcome": self.outcome,
            "oral": self.oral,
            "facts": self.facts,
            "parties": self.parties,
            "terms": self.terms,
            "basis": "、".join(self.basis),
            "effect": EFFECT,
            "confirmation": CONFIRMATION,
        }


def agreement_of(
    record: MediationRecord,
    committee: str,
    mediator: str,
    tz: tzinfo,
    basis: list[str] | None = None,
) -> Agreement:
    m = record.mediation
    if m.outcome not in OUTCOMES:
        raise AgreementError("这件调解未达成协议，没有调解协议书")
    closed: datetime = m.closed_at or record.case.opened_at
    day = centre_time.local(closed, tz)
    return Agreement(
        case_number=record.case.id,
        committee=committee,
        mediator=mediator,
        date=f"{day.year}年{day.month}月{day.day}日",
        outcome=OUTCOMES[m.outcome],
        oral=m.oral,
        facts=m.facts,
        parties=[
            {"name": p.name, "role": ROLES.get(p.role, p.role), "address": p.address}
            for p in record.parties
        ],
        terms=[
            {"n": n, "text": t.get("text", ""), "how": t.get("how", ""), "by": t.get("by", "")}
            for n, t in enumerate(m.terms or [], 1)
        ],
        basis=list(basis or []),
    )


# ----- Word ------------------------------------------------------------------------------


def default_template() -> bytes:
    """lawline's template: every part the law asks for, in the usual order."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(12)

    def para(text: str, *, center: bool = False, bold: bool = False, size: int = 12) -> None:
        p = doc.add_paragraph()
        run = p.add_run(text)
        run.bold = bold
        run.font.size = Pt(size)
        if center:
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER

    para("人民调解协议书", center=True, bold=True, size=18)
    para("编号：{{ case_number }}", center=True)
    para("当事人", bold=True)
    para("{%p for p in parties %}")
    para("{{ p.role }}：{{ p.name }}{% if p.address %}，住址：{{ p.address }}{% endif %}")
    para("{%p endfor %}")
    para("纠纷主要事实、争议事项及各方当事人的责任", bold=True)
    para("{{ facts }}")
    para("{% if basis %}调解依据：{{ basis }}{% endif %}")
    para("经{{ committee }}调解，各方当事人自愿{{ outcome }}如下：", bold=True)
    para("{%p for t in terms %}")
    para(
        "{{ t.n }}. {{ t.text }}{% if t.how %}；履行方式：{{ t.how }}{% endif %}"
        "{% if t.by %}；履行期限：{{ t.by }}{% endif %}。"
    )
    para("{%p endfor %}")
    para("{% if oral %}本协议为口头协议，由人民调解员记录。{% endif %}")
    para("{{ effect }}")
    para("{{ confirmation }}")
    para("本协议书一式若干份，当事人各执一份，{{ committee }}留存一份。")
    para("当事人（签名或按指印）：")
    para("{%p for p in parties %}")
    para("{{ p.role }} {{ p.name }}：")
    para("{%p endfor %}")
    para("人民调解员（签名）：{{ mediator }}")
    para("{{ committee }}（印章）")
    para("{{ date }}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def ensure_template(path: Path) -> Path:
    """The template at `path`, written from the default if there is none yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(default_template())
        tmp.replace(path)
    return path


def render_docx(template: Path, agreement: Agreement) -> bytes:
    try:
        doc = DocxTemplate(str(ensure_template(template)))
        doc.render(agreement.context(), autoescape=True)
    except (TemplateError, KeyError, ValueError, OSError) as exc:
        raise AgreementError(f"调解协议书模板无法使用（template）：{exc}") from exc
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ----- PDF -------------------------------------------------------------------------------


def render_pdf(agreement: Agreement, font: Path) -> bytes:
    """The agreement on A4, in the same parts and order as the default template."""
    if not font.exists():
        raise AgreementError("没有可用于 PDF 的中文字体（mediation.pdf_font）")
    pdf = FPDF(format="A4")
    pdf.set_margins(25, 25, 25)
    pdf.set_auto_page_break(True, margin=25)
    pdf.add_page()
    pdf.add_font("cjk", "", str(font))
    a = agreement

    def line(text: str, size: int = 12, align: str = "L", gap: float = 2) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(0, size * 0.6, text, align=align, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    line("人民调解协议书", 18, "C", 4)
    line(f"编号：{a.case_number}", 11, "C", 6)
    line("当事人", 13)
    for p in a.parties:
        line(f"{p['role']}：{p['name']}" + (f"，住址：{p['address']}" if p["address"] else ""))
    line("纠纷主要事实、争议事项及各方当事人的责任", 13)
    line(a.facts)
    if a.basis:
        line(f"调解依据：{'、'.join(a.basis)}")
    line(f"经{a.committee}调解，各方当事人自愿{a.outcome}如下：", 13)
    for t in a.terms:
        how = f"；履行方式：{t['how']}" if t["how"] else ""
        by = f"；履行期限：{t['by']}" if t["by"] else ""
        line(f"{t['n']}. {t['text']}{how}{by}。")
    if a.oral:
        line("本协议为口头协议，由人民调解员记录。")
    line(EFFECT)
    line(CONFIRMATION, gap=8)
    line("当事人（签名或按指印）：")
    for p in a.parties:
        line(f"{p['role']} {p['name']}：", gap=6)
    line(f"人民调解员（签名）：{a.mediator}", gap=6)
    line(f"{a.committee}（印章）", align="R")
    line(a.date, align="R")
    return bytes(pdf.output())
