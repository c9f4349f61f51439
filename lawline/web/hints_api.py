"""`GET /api/statutes/search`: the statutes searched by typing, from the console's hints
panel (and the mediator's room). People only; nothing about a contact is read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from lawline.queue.skills import Domain
from lawline.web.auth import Principal, Role, require
from lawline.web.console_hints import hint_json
from lawline.web.deps import HintsDep

router = APIRouter(prefix="/api", tags=["statutes"])

People = Annotated[
    Principal, Depends(require(Role.LAWYER, Role.MEDIATOR, Role.SUPERVISOR, Role.ADMIN))
]


@router.get("/statutes/search")
async def search_statutes(
    hints: HintsDep,
    p: People,
    q: Annotated[
        str, Query(min_length=1, max_length=200, description="words, or 劳动合同法第38条")
    ],
    domain: Domain | None = None,
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> list[dict[str, Any]]:
    """The articles that fit the words best, best first (an article named is first)."""
    found = await run_in_threadpool(hints.suggest, q, domain, limit)
    return [hint_json(h) for h in found]
