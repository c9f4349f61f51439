"""The browser pages: sign-in, the duty lawyer's console, the supervisors' alerts and
the case ledger (static files, no build step).

The pages talk to lawline only through the API under /api and the console
websocket; everything they show comes from there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from lawline.video.turn import browser_rtc_config
from lawline.web.deps import Anyone, SettingsDep

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/console")


@router.get("/login")
async def login_page() -> FileResponse:
    return FileResponse(STATIC / "login.html")


@router.get("/console")
async def console_page() -> FileResponse:
    # Signed-out visitors are sent to /login by the page itself (its API calls get 401).
    return FileResponse(STATIC / "console.html")


@router.get("/supervisor")
async def supervisor_page() -> FileResponse:
    """Supervisors' page: the public-opinion alerts raised from live transcripts."""
    return FileResponse(STATIC / "supervisor.html")


@router.get("/admin")
async def admin_page() -> FileResponse:
    """Admins' page: users, duty lawyers and their shifts, village terminals (the API it
    calls is admins' and supervisors' only)."""
    return FileResponse(STATIC / "admin.html")


@router.get("/cases")
async def cases_page() -> FileResponse:
    """The case ledger: a lawyer's cases (staff: everyone's), one case with its contacts,
    notes, hand-over, closing and legal aid; for staff the ledger search, the monthly
    export and figures, and the lawyers' star grades. Routed by the URL's #fragment."""
    return FileResponse(STATIC / "cases.html")


@router.get("/terminal")
async def terminal_page() -> FileResponse:
    """The village video terminal's page (full screen on the set-top box). It signs in
    with its device token, given once as /terminal#token=... and kept by the box."""
    return FileResponse(STATIC / "terminal.html")


@router.get("/mediation")
async def mediation_page() -> FileResponse:
    """The mediator's page: their mediations to hold, and the room of the one opened."""
    return FileResponse(STATIC / "mediation.html")


@router.get("/mediation/join")
async def mediation_join_page() -> FileResponse:
    """A party's page, opened from their link (/mediation/join#TOKEN): one big button."""
    return FileResponse(STATIC / "mediation-join.html")


@router.get("/docs")
async def api_docs() -> FileResponse:
    """The API's documentation: Swagger UI served from lawline (no internet needed)."""
    return FileResponse(STATIC / "docs.html")


@router.get("/api/webrtc/config")
async def webrtc_config(settings: SettingsDep, principal: Anyone) -> dict[str, Any]:
    """The browser's RTCConfiguration: lawline's ICE servers, never a browser default,
    with TURN credentials issued for this person (short-lived)."""
    return browser_rtc_config(settings.webrtc, principal.subject, time.time())


@router.get("/api/webrtc/media")
async def webrtc_media(settings: SettingsDep, _: Anyone) -> dict[str, float]:
    """What a video call from a terminal asks of the camera, and its timeouts."""
    t = settings.terminals
    return {
        "frame_rate": t.frame_rate,
        "ice_timeout_s": t.ice_timeout_s,
        "video_stall_s": t.video_stall_s,
    }


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
