"""`python -m lawline` runs the `lawline` command."""

from lawline.cli import app

app(prog_name="lawline")
