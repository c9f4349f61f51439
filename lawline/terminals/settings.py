"""Village video terminal settings (`[terminals]`): camera and connection limits."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TerminalSettings(BaseModel):
    """Village video terminals (视频终端)."""

    # The camera is asked for this frame rate (ideal); 3840x2160 is always asked for.
    frame_rate: int = Field(default=30, ge=1, le=60)
    # No media path between terminal and lawyer after this long: the session fails with
    # a message on both screens instead of hanging (no TURN where one is needed, say).
    ice_timeout_s: float = Field(default=30, gt=0)
    # No video frame received in this long while connected: both screens fall back to
    # audio only and say so.
    video_stall_s: float = Field(default=15, gt=0)
    # How often a waiting terminal is told its place and estimated wait.
    waiting_update_s: float = Field(default=3, gt=0)
