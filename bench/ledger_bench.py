"""Load test of the case ledger: a year of synthetic contacts through the real ingest,
then searches and the monthly export, on SQLite and on PostgreSQL.

Run by hand from the project root:

    .venv/bin/python bench/ledger_bench.py --quick   # 50,000 contacts, the last 5,000 measured
    .venv/bin/python bench/ledger_bench.py --measure 100000  # 1,000,000, the last 100,000 measured
    .venv/bin/python bench/ledger_bench.py           # 1,000,000 all through the real path (~1.5 h)
    .venv/bin/python bench/ledger_bench.py --db sqlite --contacts 200000
    .venv/bin/python bench/ledger_bench.py --postgres-url postgresql+psycopg://me@127.0.0.1:5432
    .venv/bin/python bench/ledger_bench.py --quick --profile   # where ingest time goes

The year: `--contacts` contacts over 12 months (2025, Asia/Shanghai), more on weekdays
and in office hours; ~30% abandoned (a tenth of them while offered to a lawyer), the rest
answered by one of 50 lawyers (uneven workloads), half of the answered rated, 60% with a
case form saved. 85% are voice calls from 11-digit mobile numbers: two thirds of the
numbers call once, a few call dozens of times (Pareto); video sessions have no number.
Every answered contact has a transcript of 4-12 Chinese utterances, citizen and lawyer
in turn, built from filler words and the legal phrases of its domain (拖欠工资, 劳动仲裁,
离婚, 宅基地, 交通事故, 民间借贷...), with a few rare phrases (诉讼时效, 遗嘱继承...), so
phrases are as selective as in life: the table below prints how many contacts each matches.

Ingest runs the production path without Redis: the event-stream entries the Lua scripts
would emit (contact.entered, contact.offered, contact.answered or contact.abandoned,
contact.case_saved, contact.ended, contact.rated, transcript.closed; the contact hash as
JSON as `contact_json` makes it, stream ids in time order, the contacts' events
interleaved as they happen) are applied in batches of 200 by `LedgerIngest._apply_sync`
itself (one transaction a batch, `apply_batch`), the TranscriptCopy of each
transcript.closed built from the transcript's stream entries instead of read from Redis.
Only the time inside `_apply_sync` is counted (making the events is not). It applies
from several hundred to about 2,400 events a second on a 2-core VM, so a million
contacts (~4.9 million events) take over half an hour: with `--measure N` only the
year's last N contacts go through it, on top of a database that already holds the contacts
before them, bulk-loaded: the same fold into the same rows (`_parse` of cases/ingest.py
and the rest of apply_batch), written with executemany and no reads. Before that, the
bench checks on a small year of its own that the bulk-loaded rows equal the real path's.

Searches run the query of GET /api/ledger/contacts as a supervisor does (newest first,
limit 100; `caller == number`, or `said_in(words)`), each in its own
session and transaction, the rows loaded as ORM objects (no HTTP, no JSON). Numbers are
those of random voice contacts (so frequent callers come up more often); phrases are
2- and 4-character, common and rare, 4 of each kind, each searched in turn (in random
order). 10 of each are run first and not counted (warm-up). The monthly export is June:
`to_csv(ledger_rows(...))`, `to_xlsx(ledger_rows(...))` and `figures()`, as
GET /api/ledger/export and /figures do.

SQLite: lawline's own settings (WAL, synchronous FULL) in a file under --dir; it is never
ANALYZEd, as lawline never does. PostgreSQL: a private cluster on a free loopback port
(initdb/pg_ctl as the postgres user; fsync=off, other settings default), or the server
of --postgres-url, in a database of the bench's own; after ingest it is VACUUM ANALYZEd
(what autovacuum does by itself after that many inserts). Everything runs on this
machine; the database files are in the page cache (the machine's RAM is larger).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import heapq
import io
import itertools
import json
import logging
import math
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from lawline.cases import search, search_index
from lawline.cases.ingest import (
    BATCH,
    Entry,
    LedgerIngest,
    TranscriptCopy,
    _parse,
    _stream_key,
    decode,
)
from lawline.cases.models import ContactEvent, ContactSearch, LedgerContact, TranscriptLine
from lawline.cases.reports import figures, ledger_rows, to_csv, to_xlsx
from lawline.cases.search import matching_contacts, said_in, search_body
from lawline.db import make_engine, session_factory, upgrade
from lawline.queue.keys import QueueKeys
from lawline.queue.model import Contact
from lawline.queue.skills import Channel, ContactState, Domain, GreenReason, Service
from lawline.transcripts.segments import Kind, Leg, Segment

# The private PostgreSQL cluster the tests use (run from anywhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.postgres import have_postgres, private_postgres, scratch_database

TZ = ZoneInfo("Asia/Shanghai")
YEAR_START = datetime(2025, 1, 1, tzinfo=TZ)
EXPORT_MONTH = 6  # June
FULL = 1_000_000
QUICK = 50_000
QUICK_MEASURE = 5_000

# ----- the population ------------------------------------------------------------------

SERVICE_MIX = {
    Service.CONSULTATION: 60, Service.LEGAL_AID: 20, Service.MEDIATION: 10,
    Service.NOTARISATION: 5, Service.COMPLAINT: 5,
}  # fmt: skip
DOMAIN_MIX = {
    Domain.LABOUR: 26, Domain.MARRIAGE_FAMILY: 22, Domain.LENDING_CONTRACTS: 10,
    Domain.LAND_HOMESTEAD: 8, Domain.TRAFFIC: 8, Domain.CONSUMER: 6,
    Domain.SOCIAL_SECURITY: 6, Domain.HOUSING_DEMOLITION: 5, Domain.NEIGHBOUR: 5,
    Domain.OTHER: 4,
}  # fmt: skip
N_LAWYERS = 50
ABANDONED = 0.30
ABANDONED_OFFERED = 0.10  # of the abandoned: while offered to a lawyer
RATED = 0.5  # of the answered
CASE_SAVED = 0.6  # of the answered
VIDEO = 0.15
GREEN = 0.10
CALLBACK = 0.03
NO_DOMAIN = 0.05
OTHER_LANGUAGE = 0.03
RATING_MIX = {5: 55, 4: 25, 3: 10, 2: 5, 1: 5}
# Contacts by hour of the day (local) and weekday (Monday first).
HOUR_MIX = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 10, 12, 17, 17, 15, 12, 8, 7, 6, 4, 3, 2]
WEEKDAY_MIX = [10, 10, 10, 10, 9, 5, 4]

# The legal phrases of each domain, with their weights: one to three per conversation.
TOPICS: dict[Domain, dict[str, float]] = {
    Domain.LABOUR: {"拖欠工资": 5, "劳动仲裁": 3, "劳动合同": 2, "工伤认定": 1, "加班费": 1,
                    "经济补偿": 1},
    Domain.MARRIAGE_FAMILY: {"离婚": 5, "抚养费": 3, "赡养费": 2, "财产分割": 2, "家暴": 0.2,
                             "彩礼": 0.3},
    Domain.LAND_HOMESTEAD: {"宅基地": 5, "承包地": 2, "土地确权": 1},
    Domain.HOUSING_DEMOLITION: {"拆迁补偿": 4, "安置房": 2},
    Domain.TRAFFIC: {"交通事故": 5, "保险公司": 2, "伤残鉴定": 1},
    Domain.LENDING_CONTRACTS: {"民间借贷": 4, "借条": 3, "利息": 2},
    Domain.CONSUMER: {"退货": 2, "消费者权益": 2},
    Domain.SOCIAL_SECURITY: {"养老保险": 3, "医保报销": 2},
    Domain.NEIGHBOUR: {"邻居": 3, "排水": 1, "采光": 0.3},
    Domain.OTHER: {"合同": 1, "房租": 1},
}  # fmt: skip
# Said in a conversation whatever its domain, now and then (per answered contact).
RARE = {"诉讼时效": 0.01, "精神损害赔偿": 0.003, "遗嘱继承": 0.001}
OPENERS = ["您好", "喂您好", "你好律师", "请问是法律援助热线吗", "我想咨询一下", "律师您好"]
CITIZEN_WORDS = [
    "就是说",
    "那个",
    "然后",
    "我们村",
    "这个事情",
    "已经",
    "三个月了",
    "半年了",
    "去年",
    "现在",
    "他们",
    "一直",
    "不给",
    "老板",
    "家里",
    "怎么办",
    "可以吗",
    "该怎么处理",
    "有没有办法",
    "我不太懂",
    "对方",
    "说好的",
    "没有签",
    "找过他们",
]
LAWYER_WORDS = [
    "建议您",
    "您可以",
    "先",
    "收集好证据",
    "带上身份证",
    "去当地司法所",
    "向人民法院起诉",
    "申请调解",
    "保留好聊天记录",
    "根据相关规定",
    "这种情况",
    "一般来说",
    "需要",
    "准备材料",
    "还有什么问题吗",
    "时间不要拖太久",
    "协商不成的话",
]
CLOSERS = ["好的谢谢", "明白了谢谢律师", "谢谢您", "好的再见", "那我先去准备"]
# Searched phrases, by kind. The counts they match are measured and printed.
PHRASES = {
    "common 4-char": ["拖欠工资", "法律援助", "交通事故", "劳动仲裁"],
    "common 2-char": ["律师", "离婚", "工资", "证据"],
    "rare 4-char": ["诉讼时效", "遗嘱继承", "精神损害", "专利侵权"],
    "rare 2-char": ["彩礼", "家暴", "采光", "遗嘱"],
}
DISPOSITIONS = ["answered"] * 7 + ["referred_legal_aid", "referred_mediation", "appointment"]


def _pick(rng: random.Random, mix: dict[Any, float]) -> Any:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


@dataclass
class Year:
    """When each contact enters (sorted) and who calls; deterministic for one seed."""

    n: int
    seed: int
    entered: list[float] = field(default_factory=list)
    callers: list[str] = field(default_factory=list)  # "" for video sessions
    lawyers: list[str] = field(default_factory=list)
    lawyer_weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        start = YEAR_START.timestamp()
        days = (YEAR_START.replace(year=YEAR_START.year + 1) - YEAR_START).days
        day_w = [WEEKDAY_MIX[(YEAR_START + timedelta(days=d)).weekday()] for d in range(days)]
        day = rng.choices(range(days), weights=day_w, k=self.n)
        hour = rng.choices(range(24), weights=HOUR_MIX, k=self.n)
        self.entered = sorted(
            start + d * 86400 + h * 3600 + rng.random() * 3600
            for d, h in zip(day, hour, strict=True)
        )
        # Numbers: two thirds call once; a few call dozens of times.
        voice = [rng.random() >= VIDEO for _ in range(self.n)]
        calls: list[str] = []
        seen: set[str] = set()
        n_voice = sum(voice)
        while len(calls) < n_voice:
            number = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            if number not in seen:
                seen.add(number)
                calls += [number] * max(1, min(300, self.n // 100, int(rng.paretovariate(1.6))))
        rng.shuffle(calls)
        it = iter(calls)
        self.callers = [next(it) if v else "" for v in voice]
        self.lawyers = [f"lawyer{i:02d}" for i in range(N_LAWYERS)]
        self.lawyer_weights = [rng.uniform(0.4, 1.6) for _ in self.lawyers]


@dataclass(frozen=True, slots=True)
class Item:
    """One event-stream entry, and what the bench knows of it."""

    event_id: str
    fields: dict[str, str]
    copy: TranscriptCopy | None  # what a transcript.closed brings from Redis
    index: int  # of its contact in the year
    last: bool  # its contact's last event


@dataclass
class Stream:
    """The event-stream entries of the year, in stream order, made as they are read."""

    year: Year
    seed: int
    events: Counter[str] = field(default_factory=Counter)
    lines: int = 0
    _last: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed + 1)
        self.lawyer_json = {
            lw: json.dumps({"id": lw, "name": f"律师{i:02d}", "state": "busy"}, ensure_ascii=False)
            for i, lw in enumerate(self.year.lawyers)
        }

    def _id(self, at: float) -> str:
        ms = int(at * 1000)
        last_ms, seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, seq + 1)
        return f"{self._last[0]}-{self._last[1]}"

    def entries(self) -> Iterator[Item]:
        """The entries in stream order, each with its contact's index and whether it is
        that contact's last one."""
        heap: list[tuple[float, int, int, bool, dict[str, str], TranscriptCopy | None]] = []
        tie = itertools.count()
        for i, entered in enumerate(self.year.entered):
            while heap and heap[0][0] <= entered:
                at, _, index, last, fields, copy = heapq.heappop(heap)
                yield Item(self._id(at), fields, copy, index, last)
            events = self._contact(i, entered)
            end = max(at for at, _, _ in events)
            for at, fields, copy in events:
                heapq.heappush(heap, (at, next(tie), i, at == end, fields, copy))
        while heap:
            at, _, index, last, fields, copy = heapq.heappop(heap)
            yield Item(self._id(at), fields, copy, index, last)

    def _contact(
        self, i: int, entered: float
    ) -> list[tuple[float, dict[str, str], TranscriptCopy | None]]:
        rng, year = self.rng, self.year
        caller = year.callers[i]
        domain = None if rng.random() < NO_DOMAIN else _pick(rng, DOMAIN_MIX)
        c = Contact(
            id=f"{rng.getrandbits(128):032x}",
            channel=Channel.VOICE if caller else Channel.VIDEO,
            service=_pick(rng, SERVICE_MIX),
            language="yue" if rng.random() < OTHER_LANGUAGE else "zh",
            entered_at=entered,
            domain=domain,
            caller=caller,
            green=rng.choice(list(GreenReason)) if rng.random() < GREEN else None,
            callback=bool(caller) and rng.random() < CALLBACK,
            attrs={"menu": f"{rng.randint(1, 5)}-{rng.randint(1, 4)}"},
        )
        out: list[tuple[float, dict[str, str], TranscriptCopy | None]] = []

        def emit(
            etype: str,
            at: float,
            contact: Contact,
            extra: dict[str, str] | None = None,
            copy: TranscriptCopy | None = None,
            **fields: str,
        ) -> None:
            h = contact.to_hash() | (extra or {})
            f = {"type": etype, "at": f"{at:.6f}", "contact": json.dumps(h, ensure_ascii=False)}
            out.append((at, f | fields, copy))
            self.events[etype] += 1

        emit("contact.entered", entered, c)
        lawyer = rng.choices(year.lawyers, weights=year.lawyer_weights)[0]
        if rng.random() < ABANDONED:
            t = entered + 3 + rng.expovariate(1 / 60)
            was_offered: dict[str, str] = {}
            if rng.random() < ABANDONED_OFFERED:
                offered = replace(c, state=ContactState.OFFERED, lawyer=lawyer)
                emit("contact.offered", t - 4, offered, lawyer=self.lawyer_json[lawyer])
                was_offered = {"lawyer": self.lawyer_json[lawyer]}
            gone = replace(c, state=ContactState.ABANDONED, ended_at=t)
            emit(
                "contact.abandoned", t, gone, {"ended_by": "caller"}, reason="caller", **was_offered
            )
            return out
        answered = entered + 2 + rng.expovariate(1 / 40)
        talk = min(3600.0, max(30.0, rng.lognormvariate(math.log(300), 0.6)))
        ended = answered + talk
        lj = self.lawyer_json[lawyer]
        emit(
            "contact.offered",
            answered - 4,
            replace(c, state=ContactState.OFFERED, lawyer=lawyer),
            lawyer=lj,
        )
        c = replace(c, state=ContactState.CONNECTED, lawyer=lawyer, answered_at=answered)
        emit("contact.answered", answered, c, lawyer=lj)
        segments = self._transcript(c, talk)
        extra: dict[str, str] = {}
        if rng.random() < CASE_SAVED:
            form = {
                "service": c.service.value,
                "domain": c.domain.value if c.domain else None,
                "summary": segments[1].text,
                "disposition": rng.choice(DISPOSITIONS),
                "advice": segments[2].text,
            }
            extra = {
                "case": json.dumps(form, ensure_ascii=False),
                "case_saved_at": f"{answered + talk * 0.8:.6f}",
            }
            emit("contact.case_saved", answered + talk * 0.8, c, extra)
        c = replace(c, state=ContactState.ENDED, ended_at=ended)
        extra |= {"ended_by": rng.choice(["caller", "lawyer"])}
        emit("contact.ended", ended, c, extra, lawyer=lj, reason=extra["ended_by"])
        closed = ended + rng.uniform(1, 4)
        if rng.random() < RATED:
            rated = ended + rng.uniform(5, 30)
            extra |= {"rating": str(_pick(rng, RATING_MIX)), "rated_at": f"{rated:.6f}"}
            emit("contact.rated", rated, c, extra)
            closed = max(closed, rated + 0.5)
        # The transcript stream's ids: one a segment, in the order they were stored.
        base = int(answered * 1000)
        lines = [(f"{base + int(s.end * 1000)}-{k}", s) for k, s in enumerate(segments)]
        self.lines += sum(s.kind == Kind.FINAL for s in segments)
        emit("transcript.closed", closed, c, extra, copy=TranscriptCopy(lines))
        return out

    def _transcript(self, c: Contact, talk: float) -> list[Segment]:
        """Transcription on, then 4-12 utterances, citizen first, in turn."""
        rng = self.rng
        domain = c.domain or _pick(rng, DOMAIN_MIX)
        topics = [_pick(rng, TOPICS[domain]) for _ in range(rng.randint(1, 3))]
        aid = rng.random() < (0.8 if c.service == Service.LEGAL_AID else 0.15)
        rare = [p for p, share in RARE.items() if rng.random() < share]
        n = rng.randint(4, 12)
        texts: list[str] = []
        for k in range(n):
            citizen = k % 2 == 0
            words = rng.sample(CITIZEN_WORDS if citizen else LAWYER_WORDS, rng.randint(2, 4))
            if k == 0:
                words.insert(0, rng.choice(OPENERS))
            if k == n - 1 and citizen:
                words = [rng.choice(CLOSERS)]
            elif topics and (k < 3 or rng.random() < 0.3):
                words.insert(rng.randint(0, len(words)), topics[k % len(topics)])
            if not citizen and aid and k in (1, 3):
                words.append("可以申请法律援助")
            if rare and not citizen:
                words.insert(1, f"关于{rare.pop()}的问题")
            texts.append("".join(words))
        segs = [Segment(Kind.STATUS, None, "transcription on", 0.0, 0.0)]
        step = talk / n
        for k, t in enumerate(texts):
            start = k * step + rng.uniform(0, step / 3)
            leg = Leg.CITIZEN if k % 2 == 0 else Leg.LAWYER
            end = min(start + 0.25 * len(t) + rng.uniform(0.3, 1.5), (k + 1) * step)
            segs.append(Segment(Kind.FINAL, leg, t, start, end, seq=k // 2 + 1))
        return segs


# ----- the databases -------------------------------------------------------------------


def db_size(engine: Engine, path: Path | None) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return int(conn.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    assert path is not None
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


# ----- measuring -----------------------------------------------------------------------


def pct(xs: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))] if s else float("nan")


@dataclass
class Result:
    name: str
    setup: str
    total: int = 0  # in the database
    contacts: int = 0  # through the real path
    events: int = 0  # through the real path
    bulk_contacts: int = 0
    bulk_s: float = 0.0
    lines: int = 0
    ingest_s: float = 0.0
    wall_s: float = 0.0
    # (events applied, ingest seconds so far) as each tenth of the contacts has entered.
    marks: list[tuple[int, float]] = field(default_factory=list)
    mix: str = ""
    maintenance_s: float = 0.0
    size: int = 0
    phone_ms: list[float] = field(default_factory=list)
    phone_rows: list[int] = field(default_factory=list)
    phrase_ms: dict[str, list[float]] = field(default_factory=dict)  # by phrase
    phrase_rows: dict[str, int] = field(default_factory=dict)
    phrase_hits: dict[str, int] = field(default_factory=dict)
    # PostgreSQL with the RUM index: the same phrases by the GIN plans, on the same database.
    gin_ms: dict[str, list[float]] = field(default_factory=dict)
    gin_build_s: float = 0.0
    month_rows: int = 0
    csv_s: float = 0.0
    csv_bytes: int = 0
    xlsx_s: float = 0.0
    xlsx_bytes: int = 0
    figures_s: float = 0.0
    profile: str = ""

    @property
    def eps(self) -> float:
        return self.events / self.ingest_s if self.ingest_s else 0.0

    @property
    def cps(self) -> float:
        return self.contacts / self.ingest_s if self.ingest_s else 0.0

    def _cps(self, eps: float) -> float:
        """Events a second as contacts a second (at the run's events per contact)."""
        return eps * self.contacts / self.events if self.events else 0.0

    def tail_cps(self) -> float:
        """Contacts a second over the last tenth of the run."""
        if len(self.marks) < 2:
            return self.cps
        (e0, t0), (e1, t1) = self.marks[-2], self.marks[-1]
        return self._cps((e1 - e0) / (t1 - t0)) if t1 > t0 else 0.0

    def head_cps(self) -> float:
        if not self.marks:
            return self.cps
        e, t = self.marks[0]
        return self._cps(e / t) if t else 0.0

    def all_phrase_ms(self, kind: str | None = None, gin: bool = False) -> list[float]:
        by_phrase = self.gin_ms if gin else self.phrase_ms
        return [
            ms
            for kind_, ps in PHRASES.items()
            if kind in (None, kind_)
            for p in ps
            for ms in by_phrase.get(p, [])
        ]


class BulkLoader:
    """The rows the real path makes of each contact's events, written with executemany.

    For the part of the year that is only there to make the database its full size: the
    fold is apply_batch's own (its `_parse`, and what apply_batch does with it), with
    no reads; `check_bulk` compares its rows with the real path's."""

    CHUNK = 2000  # contacts a transaction

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.pending: dict[int, list[Item]] = {}
        self.rows: dict[Any, list[dict[str, Any]]] = {
            t: [] for t in (LedgerContact, ContactEvent, TranscriptLine, ContactSearch)
        }
        self.contacts = 0
        self.events = 0
        self.seconds = 0.0
        cols = LedgerContact.__table__.columns
        self.defaults = {
            c.key: c.default.arg if c.default is not None and c.default.is_scalar else None
            for c in cols
        }

    def add(self, item: Item) -> None:
        self.pending.setdefault(item.index, []).append(item)
        if item.last:
            self._fold(self.pending.pop(item.index))
            if len(self.rows[LedgerContact]) >= self.CHUNK:
                self.flush()

    def _fold(self, items: list[Item]) -> None:
        """What apply_batch makes of one new contact's events, given in stream order."""
        events = [e for it in items if (e := _parse(it.event_id, it.fields)) is not None]
        copy = next((it.copy for it in items if it.copy is not None), None)
        cid = events[0].cid
        row = LedgerContact(id=cid, recordings=[], last_event_id="0-0")
        lines: dict[str, Segment] = {}
        closed = False
        for e in events:
            if e.key > _stream_key(row.last_event_id):
                for name, value in e.values.items():
                    setattr(row, name, value)
                row.last_event_id = e.id
            if e.voicemail and e.voicemail not in row.recordings:
                row.recordings = [*row.recordings, e.voicemail]
            if e.type == "contact.answered" and (
                row.first_answer_event is None or e.key < _stream_key(row.first_answer_event)
            ):
                row.first_lawyer, row.first_answer_event = e.lawyer, e.id
            self.rows[ContactEvent].append(
                {
                    "event_id": e.id,
                    "contact_id": cid,
                    "at": e.at,
                    "type": e.type,
                    "lawyer": e.lawyer,
                    "state": e.state,
                    "reason": e.reason,
                }
            )
            if e.type == "transcript.closed" and copy is not None:
                closed = True
                for entry_id, seg in copy.lines:
                    if seg.kind in (Kind.FINAL, Kind.GAP):
                        lines.setdefault(entry_id, seg)
                new = [x for x in copy.recordings if x not in row.recordings]
                if new:
                    row.recordings = [*row.recordings, *new]
        state = inspect(row).dict
        self.rows[LedgerContact].append({k: state.get(k, d) for k, d in self.defaults.items()})
        for entry_id, seg in lines.items():
            self.rows[TranscriptLine].append(
                {
                    "contact_id": cid,
                    "entry_id": entry_id,
                    "kind": seg.kind.value,
                    "leg": seg.leg.value if seg.leg else "",
                    "start": seg.start,
                    "end": seg.end,
                    "text": seg.text,
                }
            )
        if closed:
            finals = sorted(
                (s for s in lines.values() if s.kind == Kind.FINAL), key=lambda s: s.start
            )
            body = search_body(s.text for s in finals)
            self.rows[ContactSearch].append(
                {"contact_id": cid, "body": body, "entered_at": row.entered_at}
            )
        self.contacts += 1
        self.events += len(items)

    def flush(self) -> None:
        t0 = time.perf_counter()
        with self.sessions() as s, s.begin():
            for model, rows in self.rows.items():
                if rows:
                    s.execute(insert(model.__table__), rows)
                    rows.clear()
        self.seconds += time.perf_counter() - t0


def ingest(
    year: Year,
    seed: int,
    sessions: sessionmaker[Session],
    r: Result,
    measure: int,
    profile: bool,
) -> None:
    """The events of the year's last `measure` contacts through LedgerIngest._apply_sync,
    BATCH at a time; those of the ones before through the BulkLoader."""
    stream = Stream(year, seed)
    # Only its sessions are used by _apply_sync: no Redis, no transcript store.
    ledger = LedgerIngest(None, QueueKeys(""), sessions, None)  # type: ignore[arg-type]
    bulk = BulkLoader(sessions)
    bulk_below = year.n - measure
    skipped = Counter[str]()

    class Skips(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            skipped[record.getMessage()] += 1

    handler = Skips(logging.ERROR)
    logging.getLogger("lawline.cases.ingest").addHandler(handler)
    profiler = cProfile.Profile() if profile else None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} contacts {task.fields[rate]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tenth = max(1, measure // 10)
    batch: list[Entry] = []
    copies: dict[str, TranscriptCopy] = {}
    entered = measured = 0
    wall0 = time.perf_counter()

    def flush() -> None:
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        events, rejected = decode(batch)
        skipped.update(reason for _, reason in rejected)
        ledger._apply_sync(events, copies)
        if profiler is not None:
            profiler.disable()
        r.ingest_s += time.perf_counter() - t0
        r.events += len(batch)
        batch.clear()
        copies.clear()

    with progress:
        task = progress.add_task(f"{r.name} ingest", total=year.n, rate="")
        for it in stream.entries():
            if it.fields["type"] == "contact.entered":
                entered += 1
                if entered % 1000 == 0:
                    rate = f"{r.events / r.ingest_s:,.0f} ev/s" if r.ingest_s else "bulk"
                    progress.update(task, completed=entered, rate=rate)
            if it.index < bulk_below:
                bulk.add(it)
                continue
            if it.copy is not None:
                copies[json.loads(it.fields["contact"])["id"]] = it.copy
            batch.append((it.event_id, it.fields))
            if it.fields["type"] == "contact.entered":
                measured += 1
                if measured % tenth == 0:
                    r.marks.append((r.events, r.ingest_s))
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
        bulk.flush()
    r.wall_s = time.perf_counter() - wall0
    logging.getLogger("lawline.cases.ingest").removeHandler(handler)
    if skipped:
        print(f"  !! events skipped by the ledger: {dict(skipped)}")
    r.contacts, r.lines = measured, stream.lines
    r.bulk_contacts, r.bulk_s = bulk.contacts, bulk.seconds
    if measured % tenth == 0 and r.marks:
        r.marks[-1] = (r.events, r.ingest_s)  # with the events that came after the last entry
    else:
        r.marks.append((r.events, r.ingest_s))
    r.mix = ", ".join(f"{k.removeprefix('contact.')} {v:,}" for k, v in stream.events.items())
    with sessions() as s:
        got = (
            s.scalar(select(func.count()).select_from(LedgerContact)),
            s.scalar(select(func.count()).select_from(ContactEvent)),
            s.scalar(select(func.count()).select_from(TranscriptLine)),
            s.scalar(select(func.count()).select_from(ContactSearch)),
        )
    want = (year.n, r.events + bulk.events, stream.lines, stream.events["contact.answered"])
    if got != want:
        print(f"  !! ledger rows (contacts, events, lines, search) {got}, expected {want}")
    if profiler is not None:
        buf = io.StringIO()
        st = pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats("cumulative")
        st.print_stats(25)
        out = buf.getvalue()
        r.profile = out[out.find("   ncalls") :].rstrip()


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The four tables ingest writes, sorted, without transcript_segments' serial id."""
    engine = make_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            for model in (LedgerContact, ContactEvent, TranscriptLine, ContactSearch):
                table = model.__table__
                cols = [c for c in table.columns if not (model is TranscriptLine and c.key == "id")]
                out[model.__tablename__] = sorted(
                    tuple(map(repr, row)) for row in conn.execute(select(*cols))
                )
    finally:
        engine.dispose()
    return out


def check_bulk(seed: int, folder: Path, n: int = 300) -> str:
    """The BulkLoader's rows equal the real path's, on a small year of their own."""
    year = Year(n, seed + 7)
    paths = []
    for how in ("real", "bulk"):
        path = folder / f"check-{how}-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        engine = make_engine(url)
        try:
            r = Result(how, "")
            with contextlib.redirect_stderr(io.StringIO()):
                ingest(year, seed + 7, session_factory(engine), r, n if how == "real" else 0, False)
        finally:
            engine.dispose()
        paths.append(path)
    a, b = (table_rows(f"sqlite:///{p}") for p in paths)
    for path in paths:
        for f in path.parent.glob(path.name + "*"):
            f.unlink()
    differ = [t for t in a if a[t] != b[t]]
    if differ:
        raise SystemExit(f"bulk-loaded rows differ from the real path's in {differ}")
    counts = ", ".join(f"{len(v):,} {k}" for k, v in a.items())
    return f"bulk-loaded rows checked equal to the real path's on {n} contacts ({counts})"


def contacts_query(s: Session, number: str | None = None, words: str | None = None) -> Any:
    """The query of GET /api/ledger/contacts for a supervisor (lawline/web/cases_api.py)."""
    q = select(LedgerContact).order_by(LedgerContact.entered_at.desc()).limit(100)
    if number:
        q = q.where(LedgerContact.caller == number)
    if words:
        q = said_in(s, q, words)
    return q


def timed_search(sessions: sessionmaker[Session], **kw: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with sessions() as s, s.begin():
        rows = s.scalars(contacts_query(s, **kw)).all()
    return (time.perf_counter() - t0) * 1000, len(rows)


def searches(year: Year, seed: int, sessions: sessionmaker[Session], r: Result, n: int) -> None:
    rng = random.Random(seed + 2)
    voice = [c for c in year.callers if c]
    for _ in range(10):  # warm-up, not counted
        timed_search(sessions, number=rng.choice(voice))
        timed_search(sessions, words=rng.choice(PHRASES[rng.choice(list(PHRASES))]))
    for _ in range(n):
        ms, rows = timed_search(sessions, number=rng.choice(voice))
        r.phone_ms.append(ms)
        r.phone_rows.append(rows)
    everyone = [p for ps in PHRASES.values() for p in ps]
    plan = [everyone[k % len(everyone)] for k in range(n)]
    rng.shuffle(plan)
    for phrase in plan:
        ms, rows = timed_search(sessions, words=phrase)
        r.phrase_ms.setdefault(phrase, []).append(ms)
        r.phrase_rows[phrase] = rows
    with sessions() as s:  # how selective each phrase is (not timed)
        for ps in PHRASES.values():
            for p in ps:
                sub = matching_contacts(s, p).subquery()
                r.phrase_hits[p] = int(s.scalar(select(func.count()).select_from(sub)) or 0)


def compare_gin(engine: Engine, sessions: sessionmaker[Session], r: Result, n: int) -> None:
    """On a PostgreSQL whose search has the RUM index: the GIN index built beside it and
    the same phrases timed by both plans, one after the other in turn, so the machine's
    moods fall on both alike; the GIN index is dropped afterwards."""
    with engine.connect() as conn:
        if not search_index.has_newest_index(conn):
            return
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE INDEX {search_index.GIN_INDEX} ON contact_search USING gin (body_bigrams)"
        )
    r.gin_build_s = time.perf_counter() - t0
    everyone = [p for ps in PHRASES.values() for p in ps]
    plan = [everyone[k % len(everyone)] for k in range(n)]
    random.Random(7).shuffle(plan)
    real = search.has_newest_index
    try:
        for k, phrase in enumerate(plan):
            for gin in (k % 2 == 0, k % 2 == 1):
                search.has_newest_index = (lambda conn: False) if gin else real
                ms, _ = timed_search(sessions, words=phrase)
                (r.gin_ms if gin else r.phrase_ms).setdefault(phrase, []).append(ms)
    finally:
        search.has_newest_index = real
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {search_index.GIN_INDEX}")
    print(
        f"  RUM and GIN on this database (GIN index built in {r.gin_build_s:.1f} s),"
        f" {n} more searches each, in turn: phrase p50/p99",
        flush=True,
    )
    for kind in [None, *PHRASES]:
        rum, gin = r.all_phrase_ms(kind), r.all_phrase_ms(kind, gin=True)
        print(
            f"    {kind or 'all':14s} RUM {pct(rum, 0.5):6.1f} / {pct(rum, 0.99):6.1f} ms"
            f"   GIN {pct(gin, 0.5):6.1f} / {pct(gin, 0.99):6.1f} ms"
        )


def export(sessions: sessionmaker[Session], r: Result) -> None:
    since = YEAR_START.replace(month=EXPORT_MONTH)
    until = since.replace(month=EXPORT_MONTH + 1)
    with sessions() as s, s.begin():
        t0 = time.perf_counter()
        body = to_csv(ledger_rows(s, since, until), TZ).encode()
        r.csv_s, r.csv_bytes = time.perf_counter() - t0, len(body)
        r.month_rows = body.count(b"\n") - 1
    with sessions() as s, s.begin():
        t0 = time.perf_counter()
        r.xlsx_bytes = len(to_xlsx(ledger_rows(s, since, until), TZ))
        r.xlsx_s = time.perf_counter() - t0
    with sessions() as s, s.begin():
        t0 = time.perf_counter()
        f = figures(s, since, until)
        r.figures_s = time.perf_counter() - t0
    if f["contacts"] != r.month_rows:
        print(f"  !! figures counted {f['contacts']} contacts, the CSV has {r.month_rows} rows")


def run_database(
    name: str,
    url: str,
    year: Year,
    args: argparse.Namespace,
    setup: str,
    sqlite_path: Path | None = None,
) -> Result:
    r = Result(name, setup, total=year.n)
    print(f"\n{name}: {setup}", flush=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        ingest(year, args.seed, sessions, r, args.measure, args.profile)
        print(f"  the year: {year.n:,} contacts, {r.lines:,} transcript lines; events: {r.mix}")
        if r.bulk_contacts:
            print(
                f"  bulk-loaded (executemany, not the real path): the first {r.bulk_contacts:,}"
                f" contacts in {r.bulk_s:,.1f} s"
            )
        print(
            f"  ingest through LedgerIngest._apply_sync: {r.contacts:,} contacts, {r.events:,}"
            f" events in {r.ingest_s:,.1f} s: {r.eps:,.0f} events/s, {r.cps:,.0f} contacts/s"
            f" (first tenth {r.head_cps():,.0f}/s, last tenth {r.tail_cps():,.0f}/s);"
            f" {r.wall_s:,.1f} s wall in all",
            flush=True,
        )
        if engine.dialect.name == "postgresql":
            t0 = time.perf_counter()
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )
            r.maintenance_s = time.perf_counter() - t0
            print(f"  VACUUM ANALYZE: {r.maintenance_s:.1f} s", flush=True)
        r.size = db_size(engine, sqlite_path)
        print(f"  size: {r.size / 1e6:,.0f} MB, {r.size / year.n:,.0f} B/contact")
        searches(year, args.seed, sessions, r, args.searches)
        print(
            f"  search by number: p50 {pct(r.phone_ms, 0.5):.2f} ms, p99"
            f" {pct(r.phone_ms, 0.99):.2f} ms ({statistics.mean(r.phone_rows):.1f} rows"
            f" on average, at most {max(r.phone_rows)}); by phrase: p50"
            f" {pct(r.all_phrase_ms(), 0.5):.1f} ms, p99 {pct(r.all_phrase_ms(), 0.99):.1f} ms",
            flush=True,
        )
        if engine.dialect.name == "postgresql":
            compare_gin(engine, sessions, r, args.searches)
        export(sessions, r)
        print(
            f"  export of June: {r.month_rows:,} contacts; CSV {r.csv_s:.2f} s"
            f" ({r.csv_bytes / 1e6:.1f} MB), XLSX {r.xlsx_s:.2f} s ({r.xlsx_bytes / 1e6:.1f} MB),"
            f" figures {r.figures_s:.2f} s",
            flush=True,
        )
    finally:
        engine.dispose()
    if r.profile:
        print("\n  ingest profile (cProfile slows Python down; top 25 by cumulative time):")
        print(r.profile)
    return r


# ----- output --------------------------------------------------------------------------


def print_tables(results: Sequence[Result]) -> None:
    names = [r.name for r in results]
    print(f"\n{'':<34}" + "".join(f"{x:>14}" for x in names))

    def row(label: str, values: Sequence[str]) -> None:
        print(f"{label:<34}" + "".join(f"{v:>14}" for v in values))

    row("contacts in the database", [f"{r.total:,}" for r in results])
    row("  bulk-loaded", [f"{r.bulk_contacts:,}" for r in results])
    row("  through the real path", [f"{r.contacts:,}" for r in results])
    row("real path: events", [f"{r.events:,}" for r in results])
    row("real path: s", [f"{r.ingest_s:,.1f}" for r in results])
    row("real path: events/s", [f"{r.eps:,.0f}" for r in results])
    row("real path: contacts/s", [f"{r.cps:,.0f}" for r in results])
    row("real path: contacts/s, last tenth", [f"{r.tail_cps():,.0f}" for r in results])
    row("size MB", [f"{r.size / 1e6:,.0f}" for r in results])
    row("size B/contact", [f"{r.size / max(r.total, 1):,.0f}" for r in results])
    row("number search p50 ms", [f"{pct(r.phone_ms, 0.5):.2f}" for r in results])
    row("number search p99 ms", [f"{pct(r.phone_ms, 0.99):.2f}" for r in results])
    row("phrase search p50 ms", [f"{pct(r.all_phrase_ms(), 0.5):.1f}" for r in results])
    row("phrase search p99 ms", [f"{pct(r.all_phrase_ms(), 0.99):.1f}" for r in results])
    for kind in PHRASES:
        row(
            f"  {kind} p50/p99 ms",
            [
                f"{pct(r.all_phrase_ms(kind), 0.5):.1f}/{pct(r.all_phrase_ms(kind), 0.99):.1f}"
                for r in results
            ],
        )
    row("June contacts", [f"{r.month_rows:,}" for r in results])
    row("June CSV s", [f"{r.csv_s:.2f}" for r in results])
    row("June XLSX s", [f"{r.xlsx_s:.2f}" for r in results])
    row("June figures s", [f"{r.figures_s:.2f}" for r in results])

    print(
        f"\n{'phrase':<10}{'kind':<15}{'matches':>9}{'share':>7}"
        + "".join(f"{x[:10] + ' p50 ms':>18}{'max':>8}" for x in names)
    )
    for kind, ps in PHRASES.items():
        for p in ps:
            hits = results[0].phrase_hits.get(p, 0)
            cells = "".join(
                f"{_ms(statistics.median(r.phrase_ms[p])):>18}{_ms(max(r.phrase_ms[p])):>8}"
                if p in r.phrase_ms
                else f"{'-':>18}{'-':>8}"
                for r in results
            )
            wide = p + "\u3000" * (5 - len(p))  # full-width padding: two columns a character
            share = hits / max(results[0].total, 1)
            print(f"{wide}{kind:<15}{hits:>9,}{share:>7.1%}{cells}")
    for r in results:
        notes = []
        if r.contacts < FULL and r.tail_cps():
            hours = FULL / r.tail_cps() / 3600
            notes.append(
                f"{FULL:,} contacts through the real path would take {hours:,.1f} h"
                " at the last tenth's rate"
            )
        if r.total < FULL:
            notes.append(f"{r.size / r.total * FULL / 1e9:,.1f} GB at {FULL:,} contacts")
        if notes:
            print(f"projected, {r.name}: " + "; ".join(notes))


def _ms(x: float) -> str:
    return f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def summary(results: Sequence[Result]) -> str:
    parts = []
    for r in results:
        parts.append(
            f"db={r.name} contacts={r.total} real_path={r.contacts} eps={r.eps:.0f} cps={r.cps:.0f}"
            f" number_p50_ms={pct(r.phone_ms, 0.5):.2f} number_p99_ms={pct(r.phone_ms, 0.99):.2f}"
            f" phrase_p50_ms={pct(r.all_phrase_ms(), 0.5):.1f}"
            f" phrase_p99_ms={pct(r.all_phrase_ms(), 0.99):.1f}"
            f" june_csv_s={r.csv_s:.2f} june_xlsx_s={r.xlsx_s:.2f}"
            f" june_figures_s={r.figures_s:.2f} size_mb={r.size / 1e6:.0f}"
        )
        if r.gin_ms:
            parts[-1] += (
                f" phrase_p50_ms_gin={pct(r.all_phrase_ms(gin=True), 0.5):.1f}"
                f" phrase_p99_ms_gin={pct(r.all_phrase_ms(gin=True), 0.99):.1f}"
            )
    if len(results) == 2:
        a, b = results
        # With every contact bulk-loaded (--measure 0) nothing went through ingest.
        ingest_x = f"{b.cps / a.cps:.2f}" if a.cps else "n/a"
        parts.append(
            f"ratio={b.name}/{a.name} ingest_x={ingest_x}"
            f" phrase_p50_x={pct(b.all_phrase_ms(), 0.5) / pct(a.all_phrase_ms(), 0.5):.2f}"
            f" export_csv_x={b.csv_s / a.csv_s:.2f}"
        )
    return " | ".join(parts)


def _sources_digest() -> str:
    """A short digest of the ledger code measured (it changes as the code does)."""
    import lawline.cases
    import lawline.db

    digest = hashlib.sha256()
    roots = [Path(lawline.cases.__file__).parent, Path(lawline.db.__file__).parent]
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


# ----- main -----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=FULL, help=f"in the year (default {FULL:,})")
    p.add_argument(
        "--measure",
        type=int,
        help="through the real path, the year's last N contacts; the ones before are"
        " bulk-loaded (default: every contact through the real path; 0: bulk-load them all)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK:,} contacts, the last {QUICK_MEASURE:,} measured",
    )
    p.add_argument(
        "--db", default="sqlite,postgresql", help="sqlite, postgresql or both (the default)"
    )
    p.add_argument(
        "--postgres-url",
        help="use this server (postgresql+psycopg://user@host:port) instead of a private"
        " cluster; the bench makes a database of its own there and drops it afterwards",
    )
    p.add_argument("--dir", type=Path, help="for the SQLite file (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    p.add_argument("--searches", type=int, default=200, help="of each kind (default 200)")
    p.add_argument("--seed", type=int, default=12348)
    p.add_argument("--profile", action="store_true", help="cProfile the ingest")
    args = p.parse_args(argv)
    if args.quick:
        args.contacts = QUICK
        args.measure = QUICK_MEASURE if args.measure is None else args.measure
    args.measure = args.contacts if args.measure is None else min(args.measure, args.contacts)
    args.db = [x.strip() for x in args.db.split(",") if x.strip()]
    if not set(args.db) <= {"sqlite", "postgresql"}:
        p.error("--db: sqlite and/or postgresql")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    t0 = time.perf_counter()
    year = Year(args.contacts, args.seed)
    voice = [c for c in year.callers if c]
    per_number = Counter(voice)
    print(
        f"lawline/cases+db sources {_sources_digest()}: {args.contacts:,} contacts in"
        f" {YEAR_START.year} ({TZ}), {len(per_number):,} numbers for {len(voice):,} voice"
        f" contacts (the busiest called {per_number.most_common(1)[0][1]} times),"
        f" {N_LAWYERS} lawyers, batches of {BATCH}; made in {time.perf_counter() - t0:.1f} s;"
        f" {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        flush=True,
    )
    results: list[Result] = []
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledger-bench-")))
        if args.measure < args.contacts:
            print(check_bulk(args.seed, tmp), flush=True)
        for name in args.db:
            if name == "sqlite":
                import sqlite3

                folder = args.dir or tmp
                path = folder / f"ledger-{uuid.uuid4().hex[:8]}.db"
                setup = (
                    f"SQLite {sqlite3.sqlite_version}, {path} (WAL, synchronous FULL:"
                    " lawline's settings)"
                )
                results.append(run_database(name, f"sqlite:///{path}", year, args, setup, path))
                if args.keep and args.dir:
                    print(f"kept {path}")
                else:
                    for p in path.parent.glob(path.name + "*"):
                        p.unlink()
            else:
                if args.postgres_url:
                    server, how = args.postgres_url, "the server of --postgres-url"
                else:
                    if not have_postgres():
                        raise SystemExit("no PostgreSQL server installed (scripts/setup.sh)")
                    server = stack.enter_context(private_postgres("ledger-bench-pg-"))
                    how = "a private cluster, initdb's settings but fsync=off"
                with scratch_database(server, "ledger_bench", args.keep) as url:
                    engine = make_engine(url)
                    with engine.connect() as conn:
                        shown = {
                            k: conn.scalar(text(f"SHOW {k}"))
                            for k in (
                                "server_version",
                                "fsync",
                                "synchronous_commit",
                                "shared_buffers",
                                "work_mem",
                            )
                        }
                    engine.dispose()
                    version = str(shown.pop("server_version")).split()[0]
                    settings = ", ".join(f"{k}={v}" for k, v in shown.items())
                    setup = f"PostgreSQL {version} on {server.split('@')[-1]}, {how} ({settings})"
                    results.append(run_database("postgresql", url, year, args, setup))
    print_tables(results)
    print()
    print(summary(results))


if __name__ == "__main__":
    main()
