"""MLflow's web UI in a real browser: Debian's headless Chromium driven by Playwright (PyPI).

Playwright's own browser download cannot work on these machines, so it launches ``/usr/bin/chromium`` (the
``chromium`` package of ``make bootstrap-test``). The same steps run against Maestro on loopback
(tests/app/ui/test_browser_servers.py) and against the lab through the edge (tests/lab/test_ui_browser.py).

The identity provider is the lab's (oidc-provider-mock): its sign-in page is a form with the user's subject.

The scenarios (``a_data_scientists_day``, ``another_tenant_and_sign_out``, ``a_cross_site_form_post``) are a data
scientist's day and the attacks on it, as a browser lives them: sign in, find a run the stock client logged, open its
chart and an artifact; a viewer's rename refused; another tenant's run URL not found; sign out and the back button
lands on sign-in; a cross-site form post refused while signed in. With ``MAESTRO_UI_SCREENSHOTS=<dir>`` the
experiments, run and model registry pages are saved there (``docs/ui/`` holds the README's).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.servers import free_port

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 60_000
ML = "workflowType=machine_learning"
"""MLflow's UI opens on its GenAI views; data scientists' runs are under "Model training"."""


@contextmanager
def chromium(*, trust: Path | None = None) -> Iterator[Browser]:
    """Headless Chromium (Debian's), closed on exit.

    ``trust``: a CA certificate Chromium trusts, put in a throwaway NSS database under a throwaway HOME (where Chromium
    on Linux keeps its trust store; ``certutil`` from libnss3-tools). Pages served under that CA are then valid, and
    cached like any site's. Without it, a context that reaches a TLS site must ignore certificate errors, and
    Chromium caches nothing it gets over such a connection."""
    with ExitStack() as stack, sync_playwright() as pw:
        env: dict[str, str | float | bool] | None = None
        if trust is not None:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="maestro-chromium-")))
            nssdb = f"sql:{home / '.pki' / 'nssdb'}"
            (home / ".pki" / "nssdb").mkdir(parents=True)
            subprocess.run(["certutil", "-d", nssdb, "-N", "--empty-password"], check=True)
            add = ["certutil", "-d", nssdb, "-A", "-t", "C,,", "-n", "maestro-ca", "-i", str(trust)]
            subprocess.run(add, check=True)
            env = {**os.environ, "HOME": str(home)}
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], env=env)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium for one test (import it into a test module to use it)."""
    with chromium() as b:
        yield b


@dataclass
class Ui:
    """One user's browser on the UI at ``origin`` (``https://edge...`` or ``http://localhost:<port>``).

    Args:
        context: the browser context (its own cookies).
        page: its one tab.
        origin: the UI's origin; the UI is at ``<origin>/mlflow/``.
    """

    context: BrowserContext
    page: Page
    origin: str

    @classmethod
    def open(
        cls, browser: Browser, origin: str, *, ignore_https_errors: bool = False, headers: dict[str, str] | None = None
    ) -> Ui:
        """A new context (no cookies) with one tab; ``headers`` go with every request it makes."""
        context = browser.new_context(
            viewport={"width": 1400, "height": 900}, ignore_https_errors=ignore_https_errors, extra_http_headers=headers
        )
        context.set_default_timeout(TIMEOUT_MS)
        return cls(context=context, page=context.new_page(), origin=origin)

    @property
    def home(self) -> str:
        return f"{self.origin}/mlflow/"

    def sign_in(self, sub: str) -> None:
        """Open the UI signed out, sign in at the provider's page as ``sub``, land back on the UI."""
        self.page.goto(self.home)
        self.page.wait_for_selector("input[name=sub]")
        self.page.fill("input[name=sub]", sub)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.home}**")

    def go(self, fragment: str) -> None:
        """Open a view of the UI (its hash route, e.g. ``/experiments/1``)."""
        sep = "&" if "?" in fragment else "?"
        self.page.goto(f"{self.home}#{fragment}{sep}{ML}")

    def tidy(self) -> None:
        """Close the model registry's announcement dialog, which the UI opens over the page on a first visit."""
        self.page.keyboard.press("Escape")

    def text(self) -> str:
        return self.page.locator("body").inner_text()

    def wait_for_text(self, text: str) -> None:
        self.page.get_by_text(text).first.wait_for(state="visible")

    def call(self, method: str, path: str, body: dict[str, object]) -> int:
        """The status of a call the UI's own code would make (``fetch`` from its page, same origin)."""
        status: int = self.page.evaluate(
            """async ([method, path, body]) => {
                const r = await fetch(path, {method, body: JSON.stringify(body),
                                             headers: {"Content-Type": "application/json"}});
                return r.status;
            }""",
            [method, path, body],
        )
        return status

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tidy()
        time.sleep(1.0)  # panels and charts animate
        self.page.screenshot(path=str(path))

    def sign_out(self) -> None:
        self.page.goto(f"{self.home}oauth/logout")
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.home}**")


@dataclass(frozen=True)
class Logged:
    """What a tenant's data scientist logged with the stock client (``log_a_run``)."""

    experiment: str
    experiment_id: str
    run_id: str
    model: str


def log_a_run(tracking_uri: str, tmp_path: Path) -> Logged:
    """An experiment, a run with a metric curve and an artifact, and a registered model, by the stock client (its
    credential and TLS settings from the environment: MLFLOW_TRACKING_TOKEN, ...). Names are unique per call."""
    import mlflow
    from mlflow.tracking import MlflowClient

    suffix = uuid.uuid4().hex[:6]
    mlflow.set_tracking_uri(tracking_uri)
    experiment = f"churn-model-{suffix}"
    experiment_id = mlflow.create_experiment(experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="gradient-boosting") as run:
        mlflow.log_params({"learning_rate": 0.05, "max_depth": 6})
        for step in range(20):
            mlflow.log_metric("auc", 0.6 + 0.3 * (1 - 0.85**step), step=step)
        report = tmp_path / "report.txt"
        report.write_text("validation auc 0.89\n")
        mlflow.log_artifact(str(report), "reports")
    model = f"churn-classifier-{suffix}"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.create_registered_model(model, description="Predicts churn within 30 days.")
    return Logged(experiment=experiment, experiment_id=experiment_id, run_id=run.info.run_id, model=model)


def run_name(tracking_uri: str, run_id: str) -> str:
    """The run's name, as the stock client reads it."""
    from mlflow.tracking import MlflowClient

    name: str = MlflowClient(tracking_uri=tracking_uri).get_run(run_id).info.run_name
    return name


def screenshots(default: Path) -> Path:
    return Path(os.environ.get("MAESTRO_UI_SCREENSHOTS") or default)


@dataclass(frozen=True)
class Target:
    """Where the scenarios run: the UI's origin, the provider's URL, the stock client's tracking URI.

    Args:
        origin: the UI's origin.
        idp: the provider's base URL (its sign-in page is below it).
        tracking_uri: ``<origin>/mlflow`` for the stock client.
        insecure_tls: accept the lab CA's certificates in the browser (Chromium does not trust the lab CA).
    """

    origin: str
    idp: str
    tracking_uri: str
    insecure_tls: bool = False

    def ui(self, browser: Browser) -> Ui:
        return Ui.open(browser, self.origin, ignore_https_errors=self.insecure_tls)


def a_data_scientists_day(browser: Browser, target: Target, logged: Logged, *, scientist: str, viewer: str,
                          shots: Path) -> None:  # fmt: skip
    """Sign in as the tenant's data scientist, find the run, open its metric chart and its artifact, visit the
    registry; then, as the tenant's viewer, see the run and be refused its rename (the UI's own call, 403)."""
    ds = target.ui(browser)
    ds.sign_in(scientist)
    ds.go("/experiments")
    ds.wait_for_text(logged.experiment)
    ds.screenshot(shots / "experiments.png")
    ds.go(f"/experiments/{logged.experiment_id}")
    ds.wait_for_text("gradient-boosting")
    run = f"/experiments/{logged.experiment_id}/runs/{logged.run_id}"
    ds.go(run)
    ds.wait_for_text("learning_rate")
    ds.screenshot(shots / "run.png")
    ds.go(f"{run}/model-metrics")
    ds.page.locator("canvas, svg .trace, .js-plotly-plot").first.wait_for(state="visible")
    assert "auc" in ds.text()
    ds.go(f"{run}/artifacts")
    ds.page.get_by_text("reports", exact=True).click()
    ds.page.get_by_text("report.txt", exact=True).click()
    ds.wait_for_text("validation auc 0.89")
    ds.go("/models")
    ds.wait_for_text(logged.model)
    ds.screenshot(shots / "models.png")

    v = target.ui(browser)
    v.sign_in(viewer)
    v.go(run)
    v.wait_for_text("gradient-boosting")
    rename: dict[str, object] = {"run_id": logged.run_id, "run_name": "renamed-by-viewer"}
    assert v.call("POST", "/mlflow/ajax-api/2.0/mlflow/runs/update", rename) == 403
    assert run_name(target.tracking_uri, logged.run_id) == "gradient-boosting"


def another_tenant_and_sign_out(browser: Browser, target: Target, logged: Logged, *, stranger: str) -> None:
    """Another tenant's user opens the run's URL and sees MLflow's not-found page; signed out, the back button lands
    on the provider's sign-in page, not on a cached page."""
    other = target.ui(browser)
    other.sign_in(stranger)
    other.go(f"/experiments/{logged.experiment_id}/runs/{logged.run_id}")
    other.wait_for_text("Page Not Found")
    assert f"Run ID {logged.run_id} does not exist" in other.text()
    assert "learning_rate" not in other.text() and "report.txt" not in other.text()
    other.sign_out()
    other.page.go_back()
    other.page.wait_for_selector("input[name=sub]")
    assert other.page.url.startswith(target.idp)


def a_cross_site_form_post(browser: Browser, target: Target, logged: Logged, *, user: str) -> None:
    """A page on another site posts a rename form to the UI while the user is signed in: refused (403), the run
    unchanged, and the user's session still works."""
    victim = target.ui(browser)
    victim.sign_in(user)
    endpoint = f"{target.origin}/mlflow/ajax-api/2.0/mlflow/runs/update"
    with AttackerSite(endpoint, {"run_id": logged.run_id, "run_name": "pwned"}) as attacker:
        with victim.page.expect_response(endpoint) as answer:
            victim.page.goto(attacker.url)
        assert answer.value.status == 403
    assert run_name(target.tracking_uri, logged.run_id) == "gradient-boosting"
    victim.go(f"/experiments/{logged.experiment_id}")
    victim.wait_for_text("gradient-boosting")


class AttackerSite:
    """Another site (plain HTTP on ``127.0.0.1``, never the UI's site) whose page posts a form to the UI on load."""

    def __init__(self, target: str, fields: dict[str, str]) -> None:
        inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
        page = (
            f'<!doctype html><html><body><form id="f" method="post" action="{target}">{inputs}</form>'
            '<script>document.getElementById("f").submit()</script></body></html>'
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> AttackerSite:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
