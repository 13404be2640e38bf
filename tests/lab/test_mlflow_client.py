"""The stock MLflow client through the whole lab: WAF (HTTPS, ModSecurity + CRS) -> Maestro's /mlflow proxy -> MLflow
on the Patroni cluster -> artifacts on the S3 endpoint, with the bootstrapped tenant's API key. Data scientists
use exactly these two environment variables (README)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab


@pytest.fixture
def mlflow_env(lab_endpoints: dict[str, Any], ca_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = lab_endpoints.get("admin_key_file")
    if not key_file:
        pytest.fail("the lab bootstrapped no tenant: the API is not deployed (see `make lab` output)")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{lab_endpoints['api']}/mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", Path(key_file).read_text().strip())
    # The edge's certificate is signed by the lab CA and names the edge's address.
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", ca_file)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")


def test_a_run_with_metrics_and_an_artifact_lands_and_reads_back(mlflow_env: None, tmp_path: Path) -> None:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp_id = client.create_experiment(f"lab-client-{uuid.uuid4().hex[:8]}")
    run = client.create_run(exp_id)
    run_id = run.info.run_id
    # SQL-like words and quotes pass the WAF (a whole SQL statement as a value would not: libinjection flags it).
    client.log_param(run_id, "features", "the 'best' features, selected from users' events")
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric("loss", 1.0 / (i + 1), now, i) for i in range(1000)])
    payload = tmp_path / "model" / "weights.bin"
    payload.parent.mkdir()
    payload.write_bytes(uuid.uuid4().bytes * 4096)  # 64 KiB
    client.log_artifacts(run_id, str(payload.parent), artifact_path="model")
    client.set_terminated(run_id)

    got = client.get_run(run_id)
    assert got.data.params["features"].startswith("the 'best' features")
    assert len(client.get_metric_history(run_id, "loss")) == 1000
    assert [f.path for f in client.list_artifacts(run_id, "model")] == ["model/weights.bin"]
    back = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="model/weights.bin", dst_path=str(tmp_path / "dl")
        )
    )
    assert back.read_bytes() == payload.read_bytes()
    found = client.search_runs([exp_id], filter_string="params.features LIKE 'the %'")
    assert [r.info.run_id for r in found] == [run_id]
