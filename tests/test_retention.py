"""`lawline retention purge`, run for real, on both databases (SQLite and a private
PostgreSQL): what is past the configured retention goes (files, transcript text, the
caller's number and case form), what is not stays, nothing outside lawline's own
folders is touched, and the run leaves an audit row and a log line with counts only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import select

from lawline.cases.ingest import LedgerIngest
from lawline.cases.models import AuditEntry, ContactSearch, LedgerContact, TranscriptLine
from lawline.db import make_engine, session_factory, upgrade
from lawline.queue.keys import QueueKeys
from lawline.queue.store import QueueStore
from lawline.transcripts.segments import Kind, Leg, Segment
from lawline.transcripts.store import TranscriptStore
from tests.queue_helpers import contact

DAY = 86400.0
OLD_NUMBER, NEW_NUMBER = "13900000001", "13900000002"
FORM = {"service": "consultation", "summary": "欠薪三个月"}


async def _contact(
    redis: Redis, data_dir: Path, cid: str, number: str, ended: float, elsewhere: Path
) -> list[Path]:
    """A contact that ended at `ended`, with a transcript, a case form and the audio of
    its citizen leg (made as old as the call); returns its recording files."""
    qs = QueueStore(redis)
    audio = data_dir / "recordings" / f"{cid}-citizen.ogg"
    audio.parent.mkdir(parents=True, exist_ok=True)
    audio.write_bytes(b"OggS")
    os.utime(audio, (ended, ended))
    assert await qs.add_contact(replace(contact(cid, ended - 60), caller=number), ended - 60)
    await redis.hset(qs.keys.contact(cid), "case", json.dumps(FORM, ensure_ascii=False))
    await qs.abandon(cid, ended, "caller hung up")
    store = TranscriptStore(qs)
    await store.started(
        cid,
        ended - 60,
        **{f"recording:{cid}-citizen": str(audio), f"recording:{cid}-lawyer": str(elsewhere)},
    )
    await store.segment(cid, Segment(Kind.FINAL, Leg.CITIZEN, "老板拖欠工资", 1.0, 2.0))
    await store.closed(cid)
    return [audio]


def _purge(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LAWLINE_DATA_DIR": str(data_dir),
        "LAWLINE_DATABASE_URL": url,
        "LAWLINE_CASES__RETENTION__RECORDINGS_DAYS": "30",
        "LAWLINE_CASES__RETENTION__TRANSCRIPTS_DAYS": "90",
        "LAWLINE_CASES__RETENTION__CONTACT_DETAILS_DAYS": "365",
    }
    cli = Path(sys.executable).with_name("lawline")
    return subprocess.run(
        [str(cli), "retention", "purge", *args],
        env=env,
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


async def test_purge_applies_each_retention_period(
    redis: Redis, database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    upgrade(database_url)
    now = time.time()
    elsewhere = tmp_path / "not-lawlines.ogg"  # named in the ledger, outside data_dir
    elsewhere.write_bytes(b"OggS")
    os.utime(elsewhere, (now - 400 * DAY, now - 400 * DAY))
    ancient = await _contact(redis, data_dir, "ancient", OLD_NUMBER, now - 400 * DAY, elsewhere)
    older = await _contact(redis, data_dir, "older", OLD_NUMBER, now - 60 * DAY, elsewhere)
    recent = await _contact(redis, data_dir, "recent", NEW_NUMBER, now - DAY, elsewhere)
    orphan = data_dir / "voicemail" / "orphan.wav"  # its contact never reached the ledger
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"RIFF")
    os.utime(orphan, (now - 40 * DAY, now - 40 * DAY))
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    ingest = LedgerIngest(redis, QueueKeys("ll"), sessions, TranscriptStore(QueueStore(redis)))
    await ingest.ensure_group()
    await ingest.apply(await redis.xrange("ll:events"))

    def state() -> dict[str, tuple[str, bool, int, bool, list[str]]]:
        with sessions() as s:
            return {
                c.id: (
                    c.caller,
                    c.case_form is not None,
                    len(
                        s.scalars(
                            select(TranscriptLine).where(TranscriptLine.contact_id == c.id)
                        ).all()
                    ),
                    s.get(ContactSearch, c.id) is not None,
                    sorted(c.recordings),
                )
                for c in s.scalars(select(LedgerContact))
            }

    try:
        before = state()
        assert before["ancient"][:4] == (OLD_NUMBER, True, 1, True)
        dry = _purge(data_dir, database_url, "--dry-run")
        assert "would purge: recording_files=3 contacts_recordings=2" in dry.stdout
        assert state() == before and all(p.exists() for p in [*ancient, *older, orphan])

        run = _purge(data_dir, database_url)
        assert (
            "purged: recording_files=3 contacts_recordings=2 transcript_lines=1 "
            "contacts_transcripts=1 contacts_details=1" in run.stdout
        )
        after = state()
        # Past a year: every kind gone but the file lawline does not own.
        assert after["ancient"] == ("", False, 0, False, [str(elsewhere)])
        # Two months: the audio, not yet the transcript text or the number.
        assert after["older"] == (OLD_NUMBER, True, 1, True, [str(elsewhere)])
        assert after["recent"] == before["recent"]
        assert not any(p.exists() for p in [*ancient, *older, orphan])
        assert all(p.exists() for p in recent) and elsewhere.exists()
        # The run is in the audit trail and the log, with counts, never a number.
        with sessions() as s:
            [audit] = s.scalars(select(AuditEntry).where(AuditEntry.actor == "retention"))
        assert audit.action == "retention.purge" and "recording_files=3" in audit.detail
        assert "recording_files=3" in run.stderr
        for text in (audit.detail, run.stdout, run.stderr):
            assert OLD_NUMBER not in text and NEW_NUMBER not in text

        again = _purge(data_dir, database_url)  # nothing left to purge
        assert "recording_files=0 contacts_recordings=0 transcript_lines=0" in again.stdout
    finally:
        engine.dispose()
