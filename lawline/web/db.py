"""A request's database work: one transaction in a worker thread (SQLAlchemy's session
is synchronous), the domain's own errors turned into HTTP answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


async def in_transaction(
    db: sessionmaker[Session], work: Callable[[Session], T], errors: Mapping[type[Exception], int]
) -> T:
    """Run `work` in one transaction; an exception of a kind in `errors` (most specific
    first) becomes that HTTP status with its message."""

    def run() -> T:
        with db() as session, session.begin():
            return work(session)

    try:
        return await run_in_threadpool(run)
    except Exception as exc:
        for kind, code in errors.items():
            if isinstance(exc, kind):
                raise HTTPException(code, str(exc)) from exc
        raise
