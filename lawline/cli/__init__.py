"""The `lawline` command: one module per command group, assembled here.

- `processes`: serve and the processes it runs (telephony-worker, sip-accounts,
  transcriber, decoder)
- `tokens`, `users`, `terminals`: credentials (`token`, `user`, `terminal`)
- `retention`: purging old citizens' data
- `statutes`, `hints`: the knowledge base and the statute hints drawn from it
- `search`: the ledger search's PostgreSQL index (`search-index`)
- `speech`: voice prompts, speech models, judging the engines (`prompts`, `models`, `asr`)
- `options`, `output`, `stores`: what the commands share (flags, error reporting,
  reaching Redis and the database)

Commands import what they need inside their body, so `lawline version` and
`--help` stay fast and need no settings.
"""

from __future__ import annotations

import typer

from lawline import __version__
from lawline.cli import (
    hints,
    processes,
    retention,
    roster,
    search,
    speech,
    statutes,
    terminals,
    tokens,
    users,
)
from lawline.private_files import private_umask

app = typer.Typer(
    name="lawline",
    help="12348 public legal service hotline.",
    no_args_is_help=True,
    add_completion=False,
)

app.callback()(private_umask)  # what lawline writes (database, secrets...) is 0600


@app.command()
def version() -> None:
    """Print the lawline version."""
    typer.echo(f"lawline {__version__}")


# `lawline --help` lists them in this order.
app.command()(processes.serve)
app.command()(speech.prompts)
app.command()(processes.telephony_worker)
app.command()(processes.sip_accounts)
app.command()(processes.transcriber)
app.command()(processes.decoder)
app.command(name="search-index")(search.search_index)
app.add_typer(tokens.app, name="token")
app.add_typer(speech.asr_app, name="asr")
app.add_typer(retention.app, name="retention")
app.add_typer(users.app, name="user")
app.add_typer(terminals.app, name="terminal")
app.add_typer(roster.app, name="roster")
app.add_typer(speech.models_app, name="models")
app.add_typer(statutes.app, name="statutes")
app.add_typer(hints.app, name="hints")
