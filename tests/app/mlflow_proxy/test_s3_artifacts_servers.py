"""The artifact proxy over an object store, as in production and the lab: MLflow serving artifacts from S3 (moto's
server on loopback). Reading a missing artifact answers 404 (MLflow itself answers 500 there), and write-once and
the registered-bytes guard hold with S3's semantics (a delete reaches every key under a prefix)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.registry.mlflow_client import WORKSPACE_HEADER
from maestro_api.registry.scoping import workspace_for

from tests.app.conftest import app_client
from tests.app.mlflow_proxy.conftest import PROXIED_ROOT
from tests.app.registry.conftest import Tenant, database_of, make_tenant
from tests.mlflow_server import MlflowServer, session_mlflow, stop_process_group
from tests.servers import PgServer, free_port

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

BUCKET = "maestro-artifacts"
ART = "/mlflow/api/2.0/mlflow-artifacts/artifacts"
ML = "/mlflow/api/2.0/mlflow"


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """moto's S3 server on a free loopback port, with one bucket; yields its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.put(f"{url}/{BUCKET}", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.2)
        yield url
    finally:
        stop_process_group(proc)


@pytest.fixture(scope="module")
def s3_mlflow(pg_server: PgServer) -> Iterator[MlflowServer]:
    with moto_s3() as s3:
        env = {
            "MLFLOW_S3_ENDPOINT_URL": s3,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        with session_mlflow(
            pg_server, name="mlflow_s3", serve_artifacts=True, artifacts_destination=f"s3://{BUCKET}/mlflow", env=env
        ) as server:
            yield server


@pytest.fixture
async def s3_api(api_settings: Settings, s3_mlflow: MlflowServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(
        update={"mlflow_url": s3_mlflow.url, "artifact_root": PROXIED_ROOT, "mlflow_timeout_seconds": 30.0}
    )
    async with app_client(settings) as c:
        yield c


async def test_over_s3_a_missing_artifact_is_404_and_registered_bytes_hold(
    s3_api: httpx.AsyncClient, s3_mlflow: MlflowServer, api_settings: Settings, pg_server: PgServer
) -> None:
    a: Tenant = await make_tenant(api_settings, pg_server, database_of(api_settings), f"s3-{uuid.uuid4().hex[:6]}")
    ds, ml, octets = a.h("data-scientist"), a.h("ml-engineer"), {"Content-Type": "application/octet-stream"}
    exp = (await s3_api.post(f"{ML}/experiments/create", json={"name": "e"}, headers=ds)).json()
    run = (await s3_api.post(f"{ML}/runs/create", json={"experiment_id": exp["experiment_id"]}, headers=ds)).json()
    info = run["run"]["info"]
    root = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    weights = f"{root}/model/weights.bin"
    assert (await s3_api.put(f"{ART}/{weights}", content=b"w", headers={**ds, **octets})).status_code == 200

    # MLflow itself fails a missing S3 key with a 500; through Maestro it is a 404.
    direct = httpx.get(
        f"{s3_mlflow.url}/api/2.0/mlflow-artifacts/artifacts/{root}/model/missing.bin",
        headers={WORKSPACE_HEADER: workspace_for(a.id)},
        timeout=30,
    )
    assert direct.status_code >= 500, direct.text
    missing = await s3_api.get(f"{ART}/{root}/model/missing.bin", headers=ds)
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST"), missing.text
    got = await s3_api.get(f"{ART}/{weights}", headers=ds)
    assert (got.status_code, got.content) == (200, b"w")

    # Registered: a data scientist's prefix delete ("mod" would take "model/" on S3) and overwrite are refused.
    assert (await s3_api.post(f"{ML}/registered-models/create", json={"name": "m"}, headers=ds)).status_code == 200
    version = {"name": "m", "source": f"{info['artifact_uri']}/model", "run_id": info["run_id"]}
    assert (await s3_api.post(f"{ML}/model-versions/create", json=version, headers=ds)).status_code == 200
    for path in (f"{root}/mod", weights):
        assert (await s3_api.delete(f"{ART}/{path}", headers=ds)).status_code == 403, path
    assert (await s3_api.put(f"{ART}/{weights}", content=b"evil", headers={**ds, **octets})).status_code == 403
    assert (await s3_api.put(f"{ART}/{weights}", content=b"evil", headers={**ml, **octets})).status_code == 409
    assert (await s3_api.get(f"{ART}/{weights}", headers=ds)).content == b"w"
