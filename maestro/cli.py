"""The operator CLI, `maestro`: one program with a sub-command per job (the make targets call it too).

maestro backup | backups | restore | drill    disaster recovery (maestro/dr/commands.py)
maestro lab up | down | status | ...          the platform on local nspawn hosts (maestro/lab/commands.py)
maestro preview [STACK]                       a stack's resources, evaluated offline (maestro/offline/preview.py)
maestro policy check | generate | info        the policy pack offline (maestro/offline/policycheck.py)
maestro version
"""

import typer

from maestro.dr import commands as dr
from maestro.lab import commands as lab
from maestro.offline import policycheck, preview

app = typer.Typer(help="Maestro operator commands.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the Maestro version."""
    from importlib.metadata import version as _v

    typer.echo(_v("maestro"))


dr.register(app)
app.add_typer(lab.app, name="lab")
app.command("preview")(preview.preview)
app.add_typer(policycheck.app, name="policy")
