"""The MLflow web UI's experiments page: time from navigation to the experiments table rendered, in headless Chromium,
through the edge (the nginx_waf role's nginx + ModSecurity + OWASP CRS, TLS) to Maestro's UI routes, next to the
same page served by MLflow directly. Cold: the browser's cache emptied before the navigation; warm: the page's
static files already cached (Maestro serves them ``immutable``).

Two places:

- on loopback (``bench.servers.platform``: PostgreSQL, Redis, MLflow, the API under uvicorn; the nginx_waf role's edge
  rendered for loopback; the lab's identity provider in this process);
- ``--lab``: in the running lab (``make lab``), from this machine's browser: the edge host (edge1) -> the API on app1
  -> MLflow, signed in at the lab's provider (mon1) as its data scientist; next to MLflow on app1 directly, through
  an SSH tunnel to app1 with the API's MLflow credential (the host firewall lets only the API reach MLflow, and
  MLflow answers nothing without that credential).

Both sides list the same experiments. ``make bench-ui`` writes docs/benchmarks/ui.{md,json}, one section per place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
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
DIRECT_WORKSPACE = "workspace=default"
"""MLflow's own UI opens on a workspace picker when the server has several (every tenant's, on the lab's): the direct
experiments were made in the default workspace. Maestro's UI needs none: the tenant is the workspace."""


def seed(base: str, headers: dict[str, str], names: list[str], *, verify: str | bool = True) -> None:
    """Create the experiments (through Maestro with a key, or in MLflow directly)."""
    with httpx.Client(base_url=base, headers=headers, timeout=30, verify=verify) as client:
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
    """On loopback: the edge (nginx_waf rendered here) -> the API -> MLflow, and the same MLflow directly."""
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
                    page = f"{p.mlflow.url}/#/experiments?{ML}&{DIRECT_WORKSPACE}"
                    results["mlflow"] = measure_one(direct, page, names[-1], runs)
                finally:
                    stop_process_group(proc)
    return results


@contextlib.contextmanager
def tunnel_to(host_ip: str, port: int) -> Iterator[str]:
    """``http://127.0.0.1:<local>`` forwarded over SSH to ``host_ip:port`` as seen from that lab host."""
    from maestro.lab.pki import SSH_KEY, SSH_OPTIONS

    local = free_port()
    forward = f"127.0.0.1:{local}:{host_ip}:{port}"
    options = [*SSH_OPTIONS, "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"]
    argv = ["ssh", "-i", str(SSH_KEY), *options, "-N", "-L", forward, f"root@{host_ip}"]
    proc = subprocess.Popen(argv)  # noqa: S603 - the lab's own SSH, to a lab host
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", local), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SSH tunnel to {host_ip}:{port} did not open")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{local}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure_lab(browser: Browser, runs: int) -> dict[str, dict[str, float]]:
    """In the running lab: its edge -> the API -> MLflow as the lab's data scientist, and MLflow on app1 directly."""
    from maestro.lab import idp
    from maestro.lab.endpoints import ENDPOINTS_FILE
    from maestro.lab.topology import host_by_name, platform_ports

    lab = json.loads(ENDPOINTS_FILE.read_text())
    token = json.loads(Path(lab["secrets_file"]).read_text())["mlflow_token"]
    key = Path(lab["admin_key_file"]).read_text().strip()
    scientist = next(u for u in idp.USERS if u.tenant == idp.FIRST_TENANT and u.role == "data-scientist")
    names = [f"bench-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(EXPERIMENTS)]
    script = {"Accept": "application/json", "User-Agent": "maestro-bench"}
    seed(f"{lab['api']}/mlflow", {"Authorization": f"Bearer {key}", **script}, names, verify=lab["ca_file"])
    results: dict[str, dict[str, float]] = {}
    origin = str(lab["ui"]).removesuffix("/mlflow/")
    maestro = Ui.open(browser, origin)  # main() launched Chromium trusting the lab's CA
    maestro.sign_in(scientist.sub)
    results["edge"] = measure_one(maestro, f"{origin}/mlflow/#/experiments?{ML}", names[-1], runs)
    with tunnel_to(host_by_name("app1").ip, platform_ports()["mlflow"]) as mlflow:
        credential = {"Authorization": f"Bearer {token}"}
        seed(mlflow, credential, names)
        direct = Ui.open(browser, mlflow, headers=credential)
        results["mlflow"] = measure_one(direct, f"{mlflow}/#/experiments?{ML}&{DIRECT_WORKSPACE}", names[-1], runs)
    return results


LABELS = {
    "edge": "Maestro through the edge (TLS, ModSecurity + CRS) -> the API's UI routes -> MLflow",
    "mlflow": "MLflow directly (its own server, plain HTTP, no sign-in)",
}
PLACES = {
    "loopback": "Everything on this machine's loopback.",
    "lab": "In the lab (`make lab`): this machine's browser -> edge1 (nginx + ModSecurity + CRS) -> the API on app1 "
    "-> MLflow on app1, signed in at the lab's provider; MLflow directly on app1 through an SSH tunnel from this "
    "machine, with the API's MLflow credential (plain HTTP inside the tunnel, no sign-in).",
}


def render(places: dict[str, dict[str, Any]]) -> str:
    sections = []
    for place, result in places.items():
        rows = "\n".join(
            f"| {LABELS[k]} | {v['cold_median_ms']} | {v['cold_max_ms']} | {v['warm_median_ms']} | {v['warm_max_ms']} |"
            for k, v in result["figures"].items()
        )
        sections.append(f"""## {place.capitalize()}

{PLACES[place]} Median and worst of {result["runs"]} navigations per case.

| path | cold median (ms) | cold worst (ms) | warm median (ms) | warm worst (ms) |
|---|---|---|---|---|
{rows}

Command: `{result["command"]}`. Date: {result["date"]}. Machine: {result["machine"]["cpus"]} CPUs
({result["machine"]["cpu"]}), load before {result["load_before"]}, after {result["load_after"]}.
""")
    body = "\n".join(sections)
    return f"""# The MLflow web UI: navigation to the experiments table

Time from `page.goto(<UI>/#/experiments)` to the experiments table showing the newest of {EXPERIMENTS} experiments,
in headless Chromium (Debian's) driven by Playwright. Cold: the browser cache emptied before each navigation (the
page, its scripts and styles fetched again; the session cookie kept); warm: the static files cached.

Through Maestro the page also passes the sign-in check, TLS and the WAF on every request, and the table's data comes
from the client proxy's endpoint (tenant scoping, RBAC, audit); MLflow alone does none of that.

In the lab Chromium trusts the lab's CA (a throwaway NSS database), so the edge's pages are valid and cached like
any site's: warm is a cached load. On loopback the edge's certificate is self-signed and Chromium is told to ignore
the error (`ignore_https_errors`); Chromium caches nothing it gets over such a connection, so warm through the
loopback edge is not a cached load. MLflow direct, over plain HTTP, is cached in both places.

{body}"""


def previous_places(out_dir: Path = shared.OUT_DIR) -> dict[str, dict[str, Any]]:
    """The places measured before (kept when another place is measured); none when there is no report."""
    path = out_dir / "ui.json"
    if not path.exists():
        return {}
    places: dict[str, dict[str, Any]] = json.loads(path.read_text()).get("places", {})
    return places


def write_report(place: str, measured: dict[str, Any], out_dir: Path = shared.OUT_DIR) -> dict[str, dict[str, Any]]:
    """Record one place's run (``measured``: date, command, machine, runs, loads, figures) beside the other place's
    last one; writes ui.json and ui.md and returns every place's run."""
    places = previous_places(out_dir)
    places[place] = measured
    cases = [
        shared.case(
            f"ui experiments page, {name}: {LABELS[path]}",
            {k: (v, "ms") for k, v in values.items()},
            command=result["command"],
            date=result["date"],
            machine=result["machine"],
        )
        for name, result in places.items()
        for path, values in result["figures"].items()
    ]
    shared.write("ui", {"name": "ui-experiments-page", "places": places, "cases": cases}, render(places), out_dir)
    return places


def _lab_ca() -> Path:
    from maestro.lab.pki import CA_FILE

    return CA_FILE


def main(
    runs: Annotated[int, typer.Option(help="Navigations per case (cold and warm each).")] = 7,
    lab: Annotated[bool, typer.Option(help="Measure in the running lab (`make lab`) instead of on loopback.")] = False,
) -> None:
    """UI navigation to the experiments table, through the edge and MLflow direct; writes docs/benchmarks/ui.*."""
    before = shared.load_average()
    machine = shared.machine()
    with chromium(trust=_lab_ca() if lab else None) as browser:
        figures = measure_lab(browser, runs) if lab else measure(browser, runs)
    place = "lab" if lab else "loopback"
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = f"python -m bench ui --runs {runs}" + (" --lab" if lab else "")
    measured = {
        "date": date,
        "command": command,
        "machine": machine,
        "runs": runs,
        "load_before": before,
        "load_after": shared.load_average(),
        "units": "milliseconds",
        "figures": figures,
    }
    print(render(write_report(place, measured)))


if __name__ == "__main__":
    typer.run(main)
