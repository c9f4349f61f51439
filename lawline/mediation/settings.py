"""Mediation settings (`[mediation]`): the committee's name, the agreement's template
and the font its PDF is set in, and whether rooms are recorded."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class MediationSettings(BaseModel):
    # As it stands on the agreement (调解协议书) and beside its seal.
    committee: str = Field(default="人民调解委员会", min_length=1, max_length=100)
    # The agreement's Word template, which the centre may edit (Jinja tags, as
    # mediation/agreement.py documents). None: data_dir/templates/mediation-agreement.docx,
    # written from lawline's default on first use.
    agreement_template: Path | None = None
    # A font with Chinese characters for the agreement's PDF (TrueType, or a collection:
    # its first face). Debian's fonts-wqy-microhei, which scripts/setup.sh installs.
    pdf_font: Path = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
    # Record each side of a room's audio (Ogg Opus under data_dir/recordings, deleted with
    # the other recordings by cases.retention.recordings_days), from the moment the
    # mediator plays the recording-consent announcement; never before it.
    record_audio: bool = True
    # The parties see each other: each browser's camera to the room's VideoRoom, at most
    # this many bits a second (a village's uplink); False: the rooms are audio only.
    video: bool = True
    video_bitrate: int = Field(default=384_000, ge=64_000, le=4_000_000)
