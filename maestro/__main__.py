"""`python -m maestro ...`: the operator CLI, as the `maestro` console script runs it."""

from maestro.cli import app

app(prog_name="maestro")
