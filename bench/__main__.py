"""`python -m bench <case>`: the one entry point of the benchmarks (the `bench-*` make targets call it)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import typer

from bench import dr, lab, lab_dr, mlflow_proxy, ui, waf

app = typer.Typer(
    help="Maestro's benchmarks; each writes its report to docs/benchmarks/.", no_args_is_help=True, add_completion=False
)
app.command("dr")(dr.main)
app.command("waf")(waf.main)
app.command("proxy")(mlflow_proxy.main)
app.command("lab")(lab.main)
app.command("lab-dr")(lab_dr.main)
app.command("ui")(ui.main)

api = typer.Typer(help="The API benchmark and its profiler (bench/api/); `--help` after each lists its options.")
app.add_typer(api, name="api")

# bench/api's programs parse their own options (argparse): everything after the command name is theirs.
_THEIR_OPTIONS = {"ignore_unknown_options": True, "allow_extra_args": True}


def _their_main(main: Callable[[], int], prog: str, args: list[str]) -> None:
    saved, sys.argv = sys.argv, [prog, *args]
    try:
        code = main()
    finally:
        sys.argv = saved
    raise typer.Exit(code)


@api.command("run", context_settings=_THEIR_OPTIONS, add_help_option=False)
def api_run(ctx: typer.Context) -> None:
    """Cached and uncached reads through the API, the same read from MLflow, and a write (make bench-api)."""
    from bench.api import run

    _their_main(run.main, "python -m bench api run", ctx.args)


@api.command("profile", context_settings=_THEIR_OPTIONS, add_help_option=False)
def api_profile(ctx: typer.Context) -> None:
    """The API's cached read driven in-process: CPU per request and a cProfile (make bench-api-profile)."""
    from bench.api import profile

    _their_main(profile.main, "python -m bench api profile", ctx.args)


if __name__ == "__main__":
    app()
