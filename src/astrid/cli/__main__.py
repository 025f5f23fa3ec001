"""``python -m astrid.cli``: the `astrid` command."""

from astrid.cli import app

app(prog_name="astrid")
