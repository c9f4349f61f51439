"""`lawline token`: service tokens for lawline's own processes."""

from __future__ import annotations

from typing import Annotated

import typer

from lawline.cli.output import fail
from lawline.cli.stores import connect_redis

app = typer.Typer(
    help="Service tokens for lawline's own processes: gateways, workers, the metrics scraper.",
    no_args_is_help=True,
)


@app.command("issue")
def issue(
    subject: Annotated[str, typer.Argument(help="A name for the process, e.g. prometheus.")],
    role: Annotated[str, typer.Option(help="gateway, worker or scraper.")],
    days: Annotated[
        float | None, typer.Option(help="How long it is valid (default: token_days).")
    ] = None,
) -> None:
    """Print a signed service token; its id (for `lawline token revoke`) goes to stderr.
    People do not get tokens: they sign in."""
    from lawline.accounts.roles import SERVICE_ROLES
    from lawline.config import Settings
    from lawline.web.auth import Principal, Role, issue_token, load_or_create_secret, verify_token

    if role not in SERVICE_ROLES:
        raise typer.BadParameter(
            f"a token's role is one of {', '.join(SERVICE_ROLES)}, not {role!r} "
            "(people sign in instead)",
            param_hint="--role",
        )
    settings = Settings()
    days = settings.accounts.token_days if days is None else days
    if not 0 < days <= settings.accounts.max_token_days:
        raise typer.BadParameter(
            f"between 0 and max_token_days ({settings.accounts.max_token_days:g})",
            param_hint="--days",
        )
    secret = load_or_create_secret(settings.secret_key, settings.data_dir)
    token = issue_token(Principal(subject, Role(role)), secret, ttl_s=days * 86400)
    typer.echo(f"token id {verify_token(token, secret).token_id} (valid {days:g} days)", err=True)
    typer.echo(token)


@app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The id printed when it was issued.")],
) -> None:
    """Revoke a service token at once, on every web process."""
    from lawline.config import Settings
    from lawline.web.auth import InvalidToken, revoke_token

    settings = Settings()
    keep_s = settings.accounts.max_token_days * 86400
    try:
        with connect_redis(settings) as redis:
            revoke_token(redis, settings.redis_prefix, token_id, keep_s)
    except InvalidToken as exc:
        fail(exc)
    typer.echo(f"token {token_id} revoked")
