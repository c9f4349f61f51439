"""What `lawline serve` does: private Redis, HTTP API, clean stop on a signal.

Stop order matters: uvicorn first (its lifespan drains the queue loops while
Redis is still there), then the private redis-server, so no caller state is lost
and no redis-server is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lawline.children import Children
from lawline.config import Settings
from lawline.media.janus_client import JanusError
from lawline.media.janus_config import JanusConfigError, api_url
from lawline.media.janus_process import MediaSupervisor, prepare_janus
from lawline.private_files import private_dir, private_umask
from lawline.redis_server import EmbeddedRedis, EmbeddedRedisError
from lawline.telephony.front import FrontConfigError, worker_count
from lawline.telephony.supervisor import worker_supervisor
from lawline.transcripts.supervisor import TranscriberPlan, transcriber_plan

log = logging.getLogger(__name__)

AppFactory = Callable[[Settings, str], Any]
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """SIGINT/SIGTERM handler that asks for a clean stop instead of dying.

    uvicorn installs its own handlers while it serves and re-raises the signal to
    ours afterwards; the default SIGTERM action would then kill the process
    before the private Redis is stopped.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self.server: uvicorn.Server | None = None
        self._previous: dict[int, Any] = {}

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal = signum
        if self.server is not None:
            self.server.should_exit = True

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        self._previous = {sig: signal.signal(sig, self) for sig in _STOP_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)


class _StartFailed(Exception):
    """uvicorn gave up before it was listening."""

    def __init__(self, code: int) -> None:
        super().__init__(f"HTTP server failed to start (exit code {code})")
        self.code = code


@contextlib.contextmanager
def step(console: Console, name: str) -> Iterator[None]:
    """Show a spinner while a slow start-up step runs, then a line saying how it went."""
    started = time.monotonic()
    try:
        with console.status(f"{name}…"):
            yield
    except BaseException:
        console.print(f"[red]✗[/] {name}")
        raise
    console.print(f"[green]✓[/] {name} [dim]({time.monotonic() - started:.2f} s)[/]")


def run(settings: Settings, console: Console, app_factory: AppFactory | None = None) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    previous_umask = private_umask()
    try:
        prepare_data_dir(settings)
        return _run(settings, console, app_factory)
    finally:
        os.umask(previous_umask)


def prepare_data_dir(settings: Settings) -> None:
    """data_dir and the folders lawline writes in it are 0700 (an older install's too)."""
    data = settings.data_dir
    for folder in (
        data,
        data / "redis",
        data / "kamailio",
        data / "janus",
        data / "voicemail",
        settings.built_prompts_dir,
        settings.recordings_dir,
    ):
        private_dir(folder)


def _run(settings: Settings, console: Console, app_factory: AppFactory | None) -> int:
    embedded: EmbeddedRedis | None = None
    code = 0
    with StopRequest().installed() as stop:
        try:
            build_prompts(settings, console)
            redis_url = settings.redis_url
            if redis_url is None:
                try:
                    with step(console, "starting private Redis"):
                        embedded = start_embedded_redis(settings.data_dir)
                except EmbeddedRedisError as exc:
                    console.print(f"[red]{escape(str(exc))}[/]")
                    return 1
                redis_url = embedded.url
            if stop.signal is None:
                code = asyncio.run(
                    _serve(settings, redis_url, embedded, console, stop, app_factory)
                )
        finally:
            if embedded is not None:
                embedded.stop()
    if stop.signal is not None:
        log.info("stopped on %s", signal.Signals(stop.signal).name)
    return code


def build_prompts(settings: Settings, console: Console) -> None:
    """Generate the default voice prompts (only those whose text changed)."""
    from rich.progress import Progress

    from lawline.telephony import prompts

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("building voice prompts", total=None)
        built = prompts.build(
            settings.built_prompts_dir,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(f"[green]✓[/] voice prompts [dim]({built} built)[/]")


def start_embedded_redis(data_dir: Path) -> EmbeddedRedis:
    embedded = EmbeddedRedis(data_dir / "redis")
    embedded.start()
    return embedded


async def _serve(
    settings: Settings,
    redis_url: str,
    embedded: EmbeddedRedis | None,
    console: Console,
    stop: StopRequest,
    app_factory: AppFactory | None,
) -> int:
    """Run uvicorn (and the Redis supervisor) until it stops; returns the exit code."""
    supervisor = asyncio.create_task(embedded.supervise()) if embedded else None
    workers: asyncio.Task[None] | None = None
    transcribers: asyncio.Task[None] | None = None
    media: MediaSupervisor | None = None
    plan = transcriber_plan(settings)
    # The web process transcribes video calls (lawline/video/tap.py): same transcribers.
    transcripts = settings.transcripts.model_copy(update={"urls": plan.urls})
    settings = settings.model_copy(update={"transcripts": transcripts})
    try:
        with step(console, "starting the queue service and HTTP API"):
            server = _make_server(settings, redis_url, app_factory)
            stop.server = server
            server.should_exit = stop.signal is not None
            serving = asyncio.create_task(_uvicorn(server))
            await _until_started(server, serving)
        if server.started and (plan.children or plan.whisper_children):
            transcribers = asyncio.create_task(
                Children("transcriber", plan.children + plan.whisper_children, os.environ).run()
            )
        if server.started and settings.media.enabled:
            try:
                with step(console, "starting the media server (Janus)"):
                    media = await start_media(settings)
            except (JanusConfigError, JanusError) as exc:
                console.print(f"[red]media server: {escape(str(exc))}[/]")
                server.should_exit = True
                await serving
                return 1
        if server.started and worker_count(settings):
            try:
                telephony = worker_supervisor(settings, redis_url, plan.env)
            except FrontConfigError as exc:
                console.print(f"[red]SIP front: {escape(str(exc))}[/]")
                server.should_exit = True
                await serving
                return 1
            workers = asyncio.create_task(telephony.run())
        if server.started:
            rows = endpoint_rows(settings, _http_base(server), redis_url, embedded, plan)
            print_endpoints(console, rows)
        return await serving
    except _StartFailed as exc:
        return exc.code
    finally:
        # Workers first: they end their calls' contacts in Redis on the way out, and
        # take the last finals from the transcribers.
        for children in (workers, transcribers):
            if children is not None:
                children.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await children
        if media is not None:
            await media.stop()
        # Before stop(): the supervisor must not bring Redis back.
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor


async def start_media(settings: Settings) -> MediaSupervisor:
    """Janus running (restarted if it dies) with its API answering: every phone
    conversation's room is there."""
    media = MediaSupervisor(
        prepare_janus(settings), os.environ, None, settings.media.start_timeout_s
    )
    await media.start()
    return media


def _make_server(
    settings: Settings, redis_url: str, app_factory: AppFactory | None
) -> uvicorn.Server:
    if app_factory is None:
        # Imported late: `lawline version` and `--help` need not load the web app.
        from lawline.web.app import create_app

        app_factory = create_app
    app = app_factory(settings, redis_url)
    # log_config=None: uvicorn's loggers go through our root handler.
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port, log_config=None, lifespan="on"
    )
    return uvicorn.Server(config)


async def _uvicorn(server: uvicorn.Server) -> int:
    try:
        await server.serve()
    except SystemExit as exc:
        # uvicorn exits the process when start-up fails (port taken, lifespan error).
        log.error("HTTP server failed to start (exit code %s)", exc.code)
        return exc.code if isinstance(exc.code, int) else 1
    return 0


async def _until_started(server: uvicorn.Server, serving: asyncio.Task[int]) -> None:
    """uvicorn has no start-up event; poll its flag (the lifespan runs first)."""
    while not server.started:
        if serving.done():
            if serving.result() != 0:
                raise _StartFailed(serving.result())
            return  # stopped by a signal before it was up
        await asyncio.sleep(0.02)


def _http_base(server: uvicorn.Server) -> str:
    """Base URL from the bound socket, so port 0 shows the real port."""
    host, port = server.config.host, server.config.port
    for listener in server.servers:
        for sock in listener.sockets:
            port = sock.getsockname()[1]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _sip_note(settings: Settings) -> str:
    count = worker_count(settings)
    if not count:
        return "telephony off (telephony.workers = 0)"
    if not settings.telephony.front.enabled:
        return f"{count} telephony worker(s), no SIP front"
    front = settings.telephony.front
    trunks = ", ".join(front.trunks)
    return f"Kamailio, {count} telephony worker(s) behind it; INVITEs from {trunks}"


def endpoint_rows(
    settings: Settings,
    http_base: str,
    redis_url: str,
    embedded: EmbeddedRedis | None,
    plan: TranscriberPlan | None = None,
) -> list[tuple[str, str, str]]:
    """(what, where, note) for each thing lawline listens on or talks to."""
    number = settings.service_numbers[0] if settings.service_numbers else "12348"
    redis_note = f"private, data in {embedded.data_dir}" if embedded else "external"
    return [
        ("HTTP API", f"{http_base}/api", ""),
        ("API docs", f"{http_base}/docs", ""),
        ("Metrics", f"{http_base}/metrics", ""),
        ("Console", f"{http_base}/", "sign in; first user: lawline user add NAME --role admin"),
        ("SIP", f"sip:{number}@{settings.sip_host}:{settings.sip_port}", _sip_note(settings)),
        ("Redis", redact_url(redis_url), redis_note),
        *_media_rows(settings),
        *_transcriber_rows(settings, plan),
    ]


def _media_rows(settings: Settings) -> list[tuple[str, str, str]]:
    if not settings.media.enabled:
        return []
    return [("Media server", api_url(settings.media), "Janus: the conversations' rooms")]


def _transcriber_rows(
    settings: Settings, plan: TranscriberPlan | None
) -> list[tuple[str, str, str]]:
    if plan is None:
        return []
    if not plan.urls and not plan.whisper_urls:
        return [("Transcription", "off", plan.off_reason)]
    rows = []
    if plan.urls:
        note = (
            f"{len(plan.children)} transcriber(s), model {settings.model_path}"
            if plan.children
            else "external vosk-server farm"
        )
        rows.append(("Transcription", ", ".join(plan.urls), note))
    if plan.whisper_urls:
        note = (
            f"{len(plan.whisper_children)} Whisper decoder(s), model {settings.whisper_model_path}"
            if plan.whisper_children
            else "external decoders"
        )
        rows.append(("Final text (Whisper)", ", ".join(plan.whisper_urls), note))
    return rows


def print_endpoints(console: Console, rows: list[tuple[str, str, str]]) -> None:
    table = Table(title="lawline is up", title_justify="left")
    table.add_column("What")
    table.add_column("Where", no_wrap=True)
    table.add_column("Note", style="dim")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def redact_url(url: str) -> str:
    """Hide a password in a Redis URL before printing it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
