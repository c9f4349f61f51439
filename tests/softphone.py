"""What the test softphones (pjsua_caller.py, pjsua_callee.py) share: a call that
records what it hears and, if given a WAV file, says it (looped)."""

from __future__ import annotations

import time

import pjsua2 as pj


class RecordingCall(pj.Call):
    """Records the call's incoming audio to `out` from the moment media is up."""

    def __init__(
        self, acc: pj.Account, out: str, call_id: int = pj.PJSUA_INVALID_ID, play: str = ""
    ) -> None:
        super().__init__(acc, call_id)
        self.out = out
        self.play = play
        self.recorder: pj.AudioMediaRecorder | None = None
        self.player: pj.AudioMediaPlayer | None = None
        self.media_at: float | None = None

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        # Keep the CallInfo alive while reading its media: SWIG frees a temporary at once.
        info = self.getInfo()
        for i, mi in enumerate(info.media):
            active = mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE
            if not active:
                continue
            if self.recorder is None:
                self.recorder = pj.AudioMediaRecorder()
                self.recorder.createRecorder(self.out)
                self.media_at = time.monotonic()
                print(f"media {self.media_at}", flush=True)
                if self.play:
                    self.player = pj.AudioMediaPlayer()
                    self.player.createPlayer(self.play)  # looped
            # Every time, as a phone does: a re-INVITE moving the far end's media (lawline
            # moves it to the media server) gives the call a new stream and port.
            audio = self.getAudioMedia(i)
            audio.startTransmit(self.recorder)
            if self.player is not None:
                self.player.startTransmit(audio)
