"""What a centre reports each month: the ledger for a date range (CSV, XLSX), the
figures it publishes (consultations, legal-aid cases, mediations, answer rate,
satisfaction, per lawyer and per domain), and the lawyers' star grades.

Text in an export is never a live formula (CSV injection, OWASP): a spreadsheet
takes a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return as a
formula, and the text comes from callers and lawyers. In the CSV such a cell gets
a leading single quote; in the XLSX every text cell is written as a string, and one
that is not a plain telephone number gets the quote too, so "+8613800138000" still
reads as the number it is.

Values are in the centre's words (`lawline/labels.py`, the same as the pages): the
justice bureau reads 劳动争议 and 来电人挂断, never `labour` or `caller hung up`."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime, tzinfo
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lawline import centre_time
from lawline.cases.models import Case, LedgerContact
from lawline.cases.settings import CaseSettings
from lawline.labels import label
from lawline.mediation.models import Mediation
from lawline.phone_numbers import normalise_number

COLUMNS = [
    ("id", "编号"), ("entered_at", "来电时间"), ("channel", "渠道"), ("township", "乡镇"),
    ("village", "村"), ("service", "服务类型"),
    ("domain", "法律领域"), ("caller", "来电号码"), ("green", "绿色通道"), ("state", "状态"),
    ("waited_s", "等待(秒)"), ("talk_s", "通话(秒)"), ("first_lawyer", "首接律师"),
    ("lawyer", "办理律师"), ("rating", "评价"), ("case_id", "案件编号"),
    ("disposition", "办结方式"), ("end_reason", "结束原因"),
]  # fmt: skip
# The label group of each column whose values are codes.
LABELLED = {
    "channel": "channel", "service": "service", "domain": "domain", "green": "green",
    "state": "contactState", "disposition": "disposition", "end_reason": "reason",
}  # fmt: skip
ANSWERED = ("connected", "ended")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """Text a spreadsheet shows as it is: one that could start a formula gets a quote."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _is_number(text: str) -> bool:
    try:
        return normalise_number(text) == text != ""
    except ValueError:
        return False


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    return round((b - a).total_seconds(), 1) if a and b else None


def _place(origin: str) -> tuple[str, str]:
    """(village, township) of a ledger origin, "village, township" (cases/ingest.py)."""
    village, _, township = origin.rpartition(", ")
    return (village, township) if village else (township, "")


def ledger_rows(session: Session, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
    """Every contact that entered in [since, until), oldest first, with its case."""
    q = (
        select(LedgerContact, Case.disposition)
        .outerjoin(Case, LedgerContact.case_id == Case.id)
        .where(LedgerContact.entered_at >= since, LedgerContact.entered_at < until)
        .order_by(LedgerContact.entered_at)
        .execution_options(yield_per=1000)
    )
    for c, disposition in session.execute(q):
        village, township = _place(c.origin or "")
        yield {
            "id": c.id,
            "entered_at": c.entered_at,
            "channel": c.channel,
            "service": c.service,
            "domain": c.domain,
            "caller": c.caller,
            "green": c.green,
            "state": c.state,
            "waited_s": _seconds(c.entered_at, c.answered_at or c.ended_at),
            "talk_s": _seconds(c.answered_at, c.ended_at),
            "first_lawyer": c.first_lawyer,
            "lawyer": c.lawyer,
            "rating": c.rating,
            "case_id": c.case_id,
            "disposition": disposition or (c.case_form or {}).get("disposition") or "",
            "end_reason": c.end_reason,
            "village": village,
            "township": township,
        }


def _in_words(row: dict[str, Any]) -> dict[str, Any]:
    """The row as a person reads it: each code column in the centre's words."""
    return row | {k: label(group, row[k]) for k, group in LABELLED.items()}


class Counted(Iterator[dict[str, Any]]):
    """Rows passed through as they come, counted (for the export's audit line)."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self.rows = rows
        self.count = 0

    def __next__(self) -> dict[str, Any]:
        row = next(self.rows)
        self.count += 1
        return row


def to_csv(rows: Iterator[dict[str, Any]], tz: tzinfo) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV as Chinese only with the BOM
    w = csv.writer(out)
    w.writerow([title for _, title in COLUMNS])
    for r in map(_in_words, rows):
        w.writerow(["" if r[k] is None else _cell(r[k], tz) for k, _ in COLUMNS])
    return out.getvalue()


def _cell(v: Any, tz: tzinfo) -> Any:
    if isinstance(v, datetime):
        return centre_time.readable(v, tz)  # the centre's clock, as the XLSX shows it
    return inert(v) if isinstance(v, str) else v


def _xlsx_cell(ws: Any, v: Any, tz: tzinfo) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(tz).replace(tzinfo=None)
    if not isinstance(v, str):
        return v
    cell = WriteOnlyCell(ws, value=v if _is_number(v) else inert(v))
    cell.data_type = "s"  # text, never a formula, whatever it starts with
    return cell


def to_xlsx(rows: Iterator[dict[str, Any]], tz: tzinfo) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("台账")
    ws.append([title for _, title in COLUMNS])
    for r in map(_in_words, rows):
        ws.append([_xlsx_cell(ws, r[k], tz) for k, _ in COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def figures(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """The centre's published indicators for [since, until)."""
    totals: dict[str, float] = defaultdict(float)
    lawyers: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    domains: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    ratings: list[int] = []
    for r in ledger_rows(session, since, until):
        totals["contacts"] += 1
        answered = r["state"] in ANSWERED and r["first_lawyer"] is not None
        outcome = "answered" if answered else r["state"] if r["state"] == "abandoned" else "other"
        totals[outcome] += 1
        if r["service"] == "consultation" and answered:
            totals["consultations"] += 1
        if r["service"] == "mediation":
            totals["mediations"] += 1
        if r["rating"]:
            ratings.append(r["rating"])
        d = domains[r["domain"] or "unknown"]
        d["contacts"] += 1
        d["answered"] += answered
        if answered:
            lw = lawyers[r["lawyer"] or r["first_lawyer"]]
            lw["answered"] += 1
            lw["talk_s"] += r["talk_s"] or 0
            if r["rating"]:
                lw["ratings"] += 1
                lw["rating_sum"] += r["rating"]
    legal_aid = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(
            Case.opened_at >= since,
            Case.opened_at < until,
            (Case.service == "legal_aid") | (Case.referral_to == "legal_aid_centre"),
        )
    )
    closed = session.execute(
        select(Mediation.outcome, func.count())
        .where(Mediation.closed_at >= since, Mediation.closed_at < until)
        .group_by(Mediation.outcome)
    ).all()
    mediated = {outcome: int(n) for outcome, n in closed}
    handled = totals["answered"] + totals["abandoned"]
    return {
        "since": since,
        "until": until,
        "contacts": int(totals["contacts"]),
        "answered": int(totals["answered"]),
        "abandoned": int(totals["abandoned"]),
        "answer_rate": totals["answered"] / handled if handled else None,
        "consultations": int(totals["consultations"]),
        "legal_aid_cases": int(legal_aid or 0),
        "mediations": int(totals["mediations"]),
        # Mediations ended in the period, and those ending in a (partial) agreement.
        "disputes_mediated": sum(mediated.values()),
        "agreements_reached": mediated.get("agreement", 0) + mediated.get("partial", 0),
        "ratings": len(ratings),
        "satisfaction": sum(x >= 4 for x in ratings) / len(ratings) if ratings else None,
        "average_rating": sum(ratings) / len(ratings) if ratings else None,
        "per_lawyer": {
            k: {
                "answered": int(v["answered"]),
                "talk_s": v["talk_s"],
                "average_rating": v["rating_sum"] / v["ratings"] if v["ratings"] else None,
            }
            for k, v in sorted(lawyers.items())
        },
        "per_domain": {
            k: {"contacts": int(v["contacts"]), "answered": int(v["answered"])}
            for k, v in sorted(domains.items())
        },
    }


def stars_for(average: float, count: int, settings: CaseSettings) -> int | None:
    if count < settings.min_ratings:
        return None  # too few ratings to grade fairly
    for rule in sorted(settings.stars, key=lambda r: -r.min_average):
        if average >= rule.min_average:
            return rule.stars
    return None


def grades(session: Session, settings: CaseSettings) -> Sequence[dict[str, Any]]:
    """Every rated lawyer's ratings (all time) and star level, best first."""
    q = (
        select(LedgerContact.lawyer, func.count(), func.avg(LedgerContact.rating))
        .where(LedgerContact.rating.is_not(None), LedgerContact.lawyer.is_not(None))
        .group_by(LedgerContact.lawyer)
    )
    out = [
        {
            "lawyer": lawyer,
            "ratings": n,
            "average_rating": float(avg),
            "stars": stars_for(float(avg), n, settings),
        }
        for lawyer, n, avg in session.execute(q)
    ]
    return sorted(out, key=lambda g: (-(g["stars"] or 0), -g["average_rating"]))
