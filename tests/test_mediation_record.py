"""The mediation record (调解笔录): a mediator in the room (an aiortc peer) and a party on
the phone (a pjsua2 softphone lawline dialled) each speak (real Korean speech through
the Korean Vosk model, the one complete model here); each side's voice reaches the
transcriber apart (the room's forwarder of that side), the mediator's page gets the
lines live with the speaker's name and role, and when the room closes the lines are
the mediation's record in the ledger."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import av
import pytest

from lawline.config import Settings
from lawline.transcripts.settings import TranscriptSettings
from lawline.web.auth import Role
from tests.lawline_server import next_frame, running_lawline
from tests.phone_party import PhoneParty
from tests.speech import CITIZEN_SAYS, LAWYER_SAYS, transcriber
from tests.test_mediation_phone import phone_room, seat_until, send
from tests.test_mediation_room import party_socket
from tests.test_transcripts_browser import looped_speech

pytestmark = pytest.mark.usefixtures("media")


async def finals_by_side(desk: Any, sides: set[str], timeout_s: float) -> dict[str, Any]:
    """The first final line of each side, as the mediator's page gets them."""
    got: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    while not sides <= got.keys():
        left = deadline - time.monotonic()
        assert left > 0, f"finals only from {sorted(got)}"
        frame = json.loads(await asyncio.wait_for(desk.recv(), left))
        if frame["type"] == "transcript" and frame["kind"] == "final":
            got.setdefault(frame["side"], frame)
    return got


async def test_each_side_is_transcribed_live_under_its_name_and_kept_as_the_record(
    tmp_path: Path, clean_redis_url: str, prompts_dir: Path
) -> None:
    mediator_says = looped_speech(LAWYER_SAYS, tmp_path / "mediator.wav", 48000, pause_s=2.5)
    phone = PhoneParty(tmp_path, looped_speech(CITIZEN_SAYS, tmp_path / "party.wav", 16000, 2.0))
    with transcriber() as asr:
        settings = Settings(
            data_dir=tmp_path,
            secret_key="test-secret",
            transcripts=TranscriptSettings(urls=[asr.url]),
        )
        async with running_lawline(settings, clean_redis_url) as lawline:
            async with phone_room(
                lawline, tmp_path, clean_redis_url, prompts_dir, phone, mediator_says
            ) as room:
                desk, cid, seat = room.desk, room.cid, room.seats["张建国"]
                assert (await send(desk, type="dial", case_id=cid, who=seat))["ok"]
                await seat_until(desk, seat, lambda s: s["dial"] == "in_room")
                finals = await finals_by_side(desk, {"mediator", "respondent"}, 120)
                assert finals["respondent"]["speaker"] == "张建国（被申请人）"
                assert finals["mediator"]["speaker"] == "liu（调解员）"
                assert all(f["text"].strip() and f["end"] > f["start"] for f in finals.values())
                # Captions on: a party's page gets the lines too.
                assert (await send(desk, type="captions", case_id=cid, on=True))["ok"]
                party = await party_socket(lawline, room.tokens["李桂兰"])
                try:
                    caption = await next_frame(party, "transcript", timeout=60)
                    assert caption["speaker"] in {"张建国（被申请人）", "liu（调解员）"}
                finally:
                    await party.close()
                # Nothing is recorded before the consent announcement; each side after it.
                recordings = settings.recordings_dir
                assert not list(recordings.glob(f"m-{cid}-*")) if recordings.is_dir() else True
                assert (await send(desk, type="consent", case_id=cid))["ok"]
                await finals_by_side(desk, {"mediator", "respondent"}, 120)  # talk goes on
                assert (await send(desk, type="room_close", case_id=cid))["ok"]
            async with lawline.client("liu", Role.MEDIATOR) as http:
                mediation = (await http.get(f"/api/mediations/{cid}")).json()
                record = mediation["record"]
    # The two sides that spoke, one file each (the applicant never came: no file).
    assert mediation["recordings"] == 2
    files = sorted(p.name for p in settings.recordings_dir.glob(f"m-{cid}-*.ogg"))
    assert [f.rsplit("-", 1)[1] for f in files] == ["mediator.ogg", "respondent.ogg"]
    for f in settings.recordings_dir.glob(f"m-{cid}-*.ogg"):
        with av.open(str(f)) as container:
            assert container.streams.audio[0].codec_context.name == "opus"
            assert sum(1 for _ in container.decode(audio=0)) > 50  # over a second of audio
    sides = {line["side"] for line in record}
    assert {"mediator", "respondent"} <= sides, record
    assert [line["start"] for line in record if line["side"] == "mediator"] == sorted(
        line["start"] for line in record if line["side"] == "mediator"
    )
    assert {line["speaker"] for line in record if line["side"] == "respondent"} == {
        "张建国（被申请人）"
    }
