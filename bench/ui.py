"""The MLflow web UI's experiments page: time from navigation to the experiments table rendered, in headless Chromium,
through the edge (the nginx_waf role's nginx + ModSecurity + OWASP CRS, TLS) to Maestro's UI routes, next to the
same page served by MLflow directly. Cold: the browser's cache emptied before the navigation; warm: the page's
static files already cached (Maestro serves them ``immutable``).

Everything runs on loopback (``bench.servers.platform``: PostgreSQL, Redis, MLflow, the API under uvicorn; the lab's
identity provider in this process). Both sides list the same experiments. ``make bench-ui`` writes
docs/benchmarks/ui.{md,json}.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from typing import Annotated, Any

import httpx
import typer
from playwright.sync_api import Browser

from bench import report as shared
from bench.servers import ApiConfig, MlflowConfig, platform, start_api
from tests.ansible.nginx_waf.edge import running_edge
from tests.app.ui.browser import ML, Ui, chromium
from tests.app.ui.conftest import serve_idp
from tests.mlflow_server import stop_process_group
from tests.servers import free_port

EXPERIMENTS = 20
CLIENT_ID = "maestro-ui"


def seed(base: str, headers: dict[str, str], names: list[str]) -> None:
    """Create the experiments (through Maestro with a key, or in MLflow directly)."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for name in names:
            r = client.post("/api/2.0/mlflow/experiments/create", json={"name": name})
            r.raise_for_status()


def time_to_table(ui: Ui, url: str, last: str, *, cold: bool) -> float:
    """Milliseconds from navigation to the experiments table showing ``last`` (the newest experiment)."""
    ui.page.goto("about:blank")
    if cold:
        ui.context.new_cdp_session(ui.page).send("Network.clearBrowserCache")
    start = time.perf_counter()
    ui.page.goto(url)
    ui.page.get_by_text(last, exact=True).first.wait_for(state="visible")
    return (time.perf_counter() - start) * 1000


def measure_one(ui: Ui, url: str, last: str, runs: int) -> dict[str, float]:
    time_to_table(ui, url, last, cold=False)  # the first visit also closes the UI's first-visit panels
    figures: dict[str, float] = {}
    for kind in ("cold", "warm"):
        samples = [time_to_table(ui, url, last, cold=kind == "cold") for _ in range(runs)]
        figures[f"{kind}_median_ms"] = round(statistics.median(samples), 1)
        figures[f"{kind}_max_ms"] = round(max(samples), 1)
    return figures


def measure(browser: Browser, runs: int) -> dict[str, dict[str, float]]:
    names = [f"bench-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(EXPERIMENTS)]
    results: dict[str, dict[str, float]] = {}
    with serve_idp([{"sub": "bench-ds", "maestro_tenant": "bench", "maestro_role": "data-scientist"}]) as idp:
        env = {
            "MAESTRO_OIDC_ISSUER": idp,
            "MAESTRO_OIDC_AUDIENCE": "maestro-api",
            "MAESTRO_OIDC_JWKS_URL": f"{idp}/jwks",
            "MAESTRO_UI_OIDC_CLIENT_ID": CLIENT_ID,
            "MAESTRO_UI_OIDC_CLIENT_SECRET": uuid.uuid4().hex,
        }
        mlflow = MlflowConfig(workers=2, serve_artifacts=True)
        api_port = free_port()
        with running_edge(api_port) as edge:
            origin = f"https://localhost:{edge.https_port}"
            env["MAESTRO_UI_ORIGIN"] = origin
            with platform(prefix="maestro-bench-ui-", mlflow=mlflow, extra_env=env) as p:
                assert p.mlflow is not None
                proc, api_url = start_api(p.env, ApiConfig(), p.base / "api.log", port=api_port)
                try:
                    seed(f"{api_url}/mlflow", {"Authorization": f"Bearer {p.key}"}, names)
                    seed(p.mlflow.url, {}, names)
                    maestro = Ui.open(browser, origin, ignore_https_errors=True)
                    maestro.sign_in("bench-ds")
                    results["edge"] = measure_one(maestro, f"{origin}/mlflow/#/experiments?{ML}", names[-1], runs)
                    direct = Ui.open(browser, p.mlflow.url)
                    results["mlflow"] = measure_one(direct, f"{p.mlflow.url}/#/experiments?{ML}", names[-1], runs)
                finally:
                    stop_process_group(proc)
    return results


LABELS = {
    "edge": "Maestro through the edge (TLS, ModSecurity + CRS) -> the API's UI routes -> MLflow",
    "mlflow": "MLflow directly (its own server, plain HTTP, no sign-in)",
}


def render(result: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {LABELS[k]} | {v['cold_median_ms']} | {v['cold_max_ms']} | {v['warm_median_ms']} | {v['warm_max_ms']} |"
        for k, v in result["figures"].items()
    )
    return f"""# The MLflow web UI: navigation to the experiments table

Time from `page.goto(<UI>/#/experiments)` to the experiments table showing the newest of {EXPERIMENTS} experiments,
in headless Chromium (Debian's) driven by Playwright, everything on loopback. Cold: the browser cache emptied before
each navigation (the page, its scripts and styles fetched again; the session cookie kept); warm: the static files
cached. Median and worst of {result["runs"]} navigations per case.

| path | cold median (ms) | cold worst (ms) | warm median (ms) | warm worst (ms) |
|---|---|---|---|---|
{rows}

- Through Maestro the page also passes the sign-in check, TLS and the WAF on every request, and the table's data
  comes from the client proxy's endpoint (tenant scoping, RBAC, audit); MLflow alone does none of that.
- Not measured here: the same through the lab's edge host (network hops between hosts); `tests/lab/test_ui_browser.py`
  runs the UI there but does not time it.

Command: `{result["command"]}`. Date: {result["date"]}. Machine: {result["machine"]["cpus"]} CPUs
({result["machine"]["cpu"]}), load before {result["load_before"]}, after {result["load_after"]}.
"""


def main(runs: Annotated[int, typer.Option(help="Navigations per case (cold and warm each).")] = 7) -> None:
    """UI navigation to the experiments table, through the edge and MLflow direct; writes docs/benchmarks/ui.*."""
    before = shared.load_average()
    with chromium() as browser:
        figures = measure(browser, runs)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = f"python -m bench ui --runs {runs}"
    machine = shared.machine()
    result: dict[str, Any] = {
        "name": "ui-experiments-page",
        "date": date,
        "command": command,
        "machine": machine,
        "runs": runs,
        "load_before": before,
        "load_after": shared.load_average(),
        "units": "milliseconds",
        "figures": figures,
    }
    result["cases"] = [
        shared.case(
            f"ui experiments page, {LABELS[name]}",
            {k: (v, "ms") for k, v in values.items()},
            command=command,
            date=date,
            machine=machine,
        )
        for name, values in figures.items()
    ]
    shared.write("ui", result, render(result))
    print(render(result))


if __name__ == "__main__":
    typer.run(main)
