"""The operator CLI (`maestro ...`). Commands are added by the parts that own them."""

import typer

app = typer.Typer(help="Maestro operator commands.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the Maestro version."""
    from importlib.metadata import version as _v

    typer.echo(_v("maestro"))


# Disaster recovery: backup, backups, restore, drill (maestro/dr.py).
from maestro import dr as _dr  # noqa: E402 - registered after the app exists

_dr.register(app)
