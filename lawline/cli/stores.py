"""Reaching the hotline's Redis and database from a one-off command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import typer

from lawline.cli.output import fail

if TYPE_CHECKING:
    from redis import Redis
    from sqlalchemy.orm import Session, sessionmaker

    from lawline.config import Settings


def redis_url(settings: Settings) -> str | None:
    """`redis_url`, or the private Redis `lawline serve` runs under `data_dir`."""
    from lawline.redis_server import running_url

    return settings.redis_url or running_url(settings.data_dir / "redis")


def connect_redis(settings: Settings) -> Redis:
    """lawline's Redis, for commands that must reach the running hotline (exit 2 if not)."""
    from redis import Redis
    from redis.exceptions import RedisError

    url = redis_url(settings)
    if url is None:
        fail("cannot reach lawline's Redis: set LAWLINE_REDIS_URL (redis_url)", 2)
    redis = Redis.from_url(url, decode_responses=True)
    try:
        redis.ping()
    except RedisError as exc:
        fail(f"cannot reach lawline's Redis: {exc}", 2)
    return redis


def database(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database, brought to the newest schema first."""
    from lawline.db import make_engine, session_factory, upgrade

    upgrade(settings.database)
    return session_factory(make_engine(settings.database))


def announce_revoked(
    settings: Settings, kind: Literal["user", "session", "token", "terminal"], ident: str
) -> None:
    """Tell the running web processes, which close the credential's open websockets."""
    from redis import Redis
    from redis.exceptions import RedisError

    from lawline.revocation import announce_sync

    url = redis_url(settings)
    if url is None:
        typer.echo("(lawline is not running here: a socket is refused at its next connect)")
        return
    try:
        with Redis.from_url(url) as redis:
            announce_sync(redis, settings.redis_prefix, kind, ident)
    except RedisError:
        typer.echo("(lawline's Redis is not reachable: a socket is refused at its next connect)")
