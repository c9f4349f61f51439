"""Commands that run one of lawline's long-lived processes.

`serve` is the hotline; it starts the others (telephony workers, the SIP
accounts sync, transcribers, Whisper decoders) as its children, and each can
also run on its own against a running hotline's Redis.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from lawline.cli.options import ConfigFile, ListenHost, ListenPort, LogLevel
from lawline.cli.output import console, fail


def serve(
    config: ConfigFile = None,
    http_port: Annotated[int | None, typer.Option(help="Override http_port.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Override data_dir.")] = None,
    log_level: LogLevel = "INFO",
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
    raise typer.Exit(run(settings, console()))


def telephony_worker(
    sip_port: Annotated[int | None, typer.Option(help="SIP port (default: sip_port).")] = None,
    sip_host: Annotated[str | None, typer.Option(help="SIP address (default: sip_host).")] = None,
    media_host: Annotated[
        str | None, typer.Option(help="RTP address (default: the SIP address).")
    ] = None,
    rtp_port: Annotated[int, typer.Option(help="First RTP port of this worker.")] = 40000,
    name: Annotated[str, typer.Option(help="This worker's name in the record.")] = "worker-1",
    log_level: LogLevel = "INFO",
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
        conference_rate_hz=settings.telephony.conference_rate_hz,
    )
    # pjsua aborts on a broken invariant: leave the Python stack of that moment in the log.
    faulthandler.enable()
    asyncio.run(run_worker(settings, settings.redis_url, sip, name))


def sip_accounts(log_level: LogLevel = "INFO") -> None:
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


def transcriber(
    port: ListenPort = 2700,
    host: ListenHost = "127.0.0.1",
    model: Annotated[
        Path | None, typer.Option(help="Vosk model directory (default: the configured one).")
    ] = None,
    threads: Annotated[int, typer.Option(help="Decoding threads.")] = 1,
    max_streams: Annotated[
        int, typer.Option(help="Utterances decoded at once; more are refused.")
    ] = 3,
    log_level: LogLevel = "INFO",
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
        fail(f"{exc}; see `lawline models fetch`", 2)


def decoder(
    port: ListenPort = 2750,
    host: ListenHost = "127.0.0.1",
    model: Annotated[
        Path | None, typer.Option(help="Whisper model directory (default: the configured one).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CTranslate2 threads.")] = None,
    language: Annotated[str, typer.Option(help="Language of the speech (Whisper's code).")] = "zh",
    log_level: LogLevel = "INFO",
) -> None:
    """Write each finished utterance's final text with Whisper (vosk-server's protocol)."""
    import asyncio

    from lawline.config import Settings
    from lawline.logs import setup_logging
    from lawline.transcripts.decoder import run_decoder
    from lawline.transcripts.engines import decode_settings, pack_limits
    from lawline.transcripts.whisper import ModelMissing

    setup_logging(log_level)
    settings = Settings()
    w = settings.transcripts.whisper
    path = model or settings.whisper_model_path
    running = run_decoder(
        path,
        host,
        port,
        threads or w.threads,
        w.streams_per_process,
        decode_settings(settings, language),
        w.compute_type,
        pack_limits(settings),
        w.decode_early,
        w.decode_early_below_load,
        w.batch_utterances,
    )
    try:
        asyncio.run(running)
    except ModelMissing as exc:
        fail(f"{exc}; see `lawline models whisper`", 2)
