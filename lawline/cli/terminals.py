"""`lawline terminal`: village terminals (video, or SIP phones)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lawline.cli.output import fail
from lawline.cli.stores import announce_revoked, database

if TYPE_CHECKING:
    from lawline.config import Settings

app = typer.Typer(
    help="Village terminals (video, or SIP phones): enrol one, list, revoke.",
    no_args_is_help=True,
)

TerminalId = Annotated[str, typer.Argument(help="The terminal's id.")]


@app.command("add")
def add_terminal(
    terminal_id: Annotated[str, typer.Argument(help="The terminal's id, e.g. dalai-cun-1.")],
    village: Annotated[str, typer.Option(help="Its village (村).")],
    township: Annotated[str, typer.Option(help="Its township (乡镇).")],
    language: Annotated[str, typer.Option(help="Its residents' default language.")] = "zh",
    sip: Annotated[
        bool, typer.Option(help="Also SIP credentials, for a SIP phone that registers.")
    ] = False,
) -> None:
    """Enrol a terminal and print its device token (and SIP password), shown only once."""
    from datetime import UTC, datetime

    from lawline.config import Settings
    from lawline.terminals.registry import TerminalError, enrol

    settings = Settings()
    if language not in settings.languages:
        fail(f"language {language!r} is not served here")
    realm = settings.telephony.front.realm if sip else None
    when = datetime.now(UTC)
    try:
        with database(settings)() as session, session.begin():
            enrolled = enrol(
                session, terminal_id, village, township, language, when, sip_realm=realm
            )
    except TerminalError as exc:
        fail(exc)
    typer.echo(f"terminal {terminal_id} enrolled; open /terminal#token={enrolled.token} on it once")
    typer.echo(enrolled.token)
    if enrolled.sip_password:
        _echo_sip(settings, terminal_id, enrolled.sip_password)


def _echo_sip(settings: Settings, terminal_id: str, password: str) -> None:
    host, port, realm = settings.sip_host, settings.sip_port, settings.telephony.front.realm
    where = f"sip:{terminal_id}@{host}:{port}"
    typer.echo(f"SIP: register {where}, user {terminal_id}, realm {realm}, password (shown once):")
    typer.echo(password)


@app.command("sip-password")
def sip_password(terminal_id: TerminalId) -> None:
    """Give a terminal new SIP credentials (the old password stops working)."""
    from lawline.config import Settings
    from lawline.terminals.registry import TerminalError, issue_sip_password

    settings = Settings()
    try:
        with database(settings)() as session, session.begin():
            password = issue_sip_password(session, terminal_id, settings.telephony.front.realm)
    except TerminalError as exc:
        fail(exc)
    _echo_sip(settings, terminal_id, password)


@app.command("list")
def list_terminals() -> None:
    """Every terminal: id, village, township, language, revoked or not."""
    from lawline.config import Settings
    from lawline.terminals.registry import terminals

    with database(Settings())() as session:
        for t in terminals(session):
            revoked = f"revoked {t.revoked_at:%Y-%m-%d %H:%M} UTC" if t.revoked_at else ""
            sip = "sip" if t.sip_ha1 else ""
            typer.echo(f"{t.id}\t{t.village}\t{t.township}\t{t.language}\t{sip}\t{revoked}")


@app.command("revoke")
def revoke_terminal(terminal_id: TerminalId) -> None:
    """Refuse this terminal's token from now on (stolen or retired)."""
    from datetime import UTC, datetime

    from lawline.config import Settings
    from lawline.terminals.registry import TerminalError, revoke

    settings = Settings()
    try:
        with database(settings)() as session, session.begin():
            revoke(session, terminal_id, datetime.now(UTC))
    except TerminalError as exc:
        fail(exc)
    typer.echo(f"terminal {terminal_id} revoked")
    announce_revoked(settings, "terminal", terminal_id)
