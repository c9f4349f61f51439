"""`lawline user`: the people who sign in (the first admin is made here)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from lawline.cli.output import fail
from lawline.cli.stores import connect_redis, database

if TYPE_CHECKING:
    from lawline.accounts.service import Accounts
    from lawline.config import Settings

app = typer.Typer(
    help="The people who sign in: lawyers, mediators, supervisors, admins.",
    no_args_is_help=True,
)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _accounts(settings: Settings) -> Accounts:
    from lawline.accounts.service import Accounts

    return Accounts(database(settings)(), settings.accounts)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Username; a lawyer's is their lawyer id.")],
    role: Annotated[str, typer.Option(help="admin, supervisor, lawyer or mediator.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the console.")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user (the first admin is made this way: lawline has no default users)."""
    from datetime import UTC, datetime

    from lawline.accounts.service import AccountError
    from lawline.config import Settings

    password = _password(password_stdin)
    try:
        _accounts(Settings()).add_user(name, role, password, datetime.now(UTC), display_name)
    except AccountError as exc:
        fail(exc)
    typer.echo(f"user {name} added ({role})")


@app.command("passwd")
def passwd(
    name: Annotated[str, typer.Argument(help="Username.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a user's password: their sessions end and sign-in locks are lifted."""
    from lawline.accounts.service import AccountError
    from lawline.accounts.sessions import end_user_sessions
    from lawline.accounts.throttle import clear_sync
    from lawline.config import Settings
    from lawline.revocation import announce_sync

    settings = Settings()
    password = _password(password_stdin)
    with connect_redis(settings) as redis:  # reached first: a new password must end the sessions
        try:
            _accounts(settings).set_password(name, password)
        except AccountError as exc:
            fail(exc)
        ended = end_user_sessions(redis, settings.redis_prefix, name)
        announce_sync(redis, settings.redis_prefix, "user", name)
        clear_sync(redis, settings.redis_prefix, name)
    typer.echo(f"password of {name} changed; {ended} sessions ended, sign-in locks lifted")


@app.command("list")
def list_users() -> None:
    """Every user, with role and whether disabled."""
    from lawline.config import Settings

    for user in _accounts(Settings()).users():
        flags = ["disabled"] if user.disabled else []
        typer.echo(f"{user.username}\t{user.role}\t{user.display_name}\t{' '.join(flags)}")
