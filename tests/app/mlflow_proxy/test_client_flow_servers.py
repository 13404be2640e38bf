"""The stock ``mlflow`` client through Maestro, two tenants: everything lands in the caller's tenant only."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient

from tests.app.mlflow_proxy.conftest import Maestro, use_key
from tests.app.mlflow_proxy.flows import BATCH_POINTS, AddN, log_everything
from tests.app.registry.conftest import Tenant

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


async def test_two_tenants_log_register_load_and_search(
    mlflow_env: Maestro, two_tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a, b = two_tenants
    use_key(monkeypatch, a.keys["ml-engineer"])
    logged_a = log_everything(tmp_path, experiment_name="churn", model_name="churn-model", n=1)

    client = MlflowClient()
    history = client.get_metric_history(logged_a.run_id, "curve")
    assert len(history) == BATCH_POINTS
    assert client.get_run(logged_a.run_id).data.params == {"alpha": "0.5", "n": "1"}
    listed = {f.path for f in client.list_artifacts(logged_a.run_id, "inputs")}
    assert listed == {"inputs/readme.txt", "inputs/sub"}
    local = mlflow.artifacts.download_artifacts(
        run_id=logged_a.run_id, artifact_path="inputs", dst_path=str(tmp_path / "dl")
    )
    assert (Path(local) / "readme.txt").read_text() == "tenant payload 1\n"
    assert (Path(local) / "sub" / "data.csv").read_text() == "a,b\n1,2\n"
    runs = mlflow.search_runs([logged_a.experiment_id], filter_string="params.alpha = '0.5'", output_format="list")
    assert [r.info.run_id for r in runs] == [logged_a.run_id]
    assert [m.name for m in client.search_registered_models()] == ["churn-model"]
    assert client.get_model_version_by_alias("churn-model", "champion").version == logged_a.version
    # The artifacts went through the proxy into the tenant's workspace prefix of the artifact store, and only there.
    assert logged_a.artifact_uri.startswith(f"mlflow-artifacts:/tenants/{a.id}/")
    tenant_dir = mlflow_env.artifact_dir / "workspaces" / f"mt-{a.id.hex}" / "tenants" / str(a.id)
    assert any(p.name == "readme.txt" for p in tenant_dir.rglob("*"))
    assert not any(p.name == "readme.txt" for p in (mlflow_env.artifact_dir).rglob("*") if tenant_dir not in p.parents)

    # Tenant B: the same names are free in its tenant, and nothing of A is visible through any of the calls.
    use_key(monkeypatch, b.keys["ml-engineer"])
    client = MlflowClient()
    assert client.get_experiment_by_name("churn") is None
    assert client.search_experiments(filter_string="name = 'churn'") == []
    assert client.search_registered_models() == []
    assert client.search_model_versions("name = 'churn-model'") == []
    logged_b = log_everything(tmp_path, experiment_name="churn", model_name="churn-model", n=2)
    assert logged_b.experiment_id != logged_a.experiment_id
    assert [e.name for e in client.search_experiments() if e.name == "churn"] == ["churn"]
    assert {r.info.run_id for r in client.search_runs([logged_b.experiment_id])} & {logged_a.run_id} == set()
    assert [v.version for v in client.search_model_versions("name = 'churn-model'")] == [logged_b.version]
    loaded = mlflow.pyfunc.load_model("models:/churn-model@champion")
    assert list(loaded.predict([1])) == [3]

    # A still sees its own model, unchanged by B's.
    use_key(monkeypatch, a.keys["viewer"])
    loaded = mlflow.pyfunc.load_model("models:/churn-model@champion")
    assert list(loaded.predict([1])) == [2]


async def test_a_data_scientist_logs_and_registers_with_the_stock_client_but_cannot_rewrite_the_version(
    mlflow_env: Maestro, two_tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Normal use keeps working under write-once (artifact directories logged twice to different paths, a model
    logged and registered); the client's own attempts to rewrite a registered version's bytes are refused."""
    a, _ = two_tenants
    use_key(monkeypatch, a.keys["data-scientist"])
    client = MlflowClient()
    experiment_id = mlflow.create_experiment("ds-flow")
    art = tmp_path / "art"
    art.mkdir()
    (art / "a.txt").write_text("first\n")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifacts(str(art), artifact_path="inputs")
        mlflow.log_artifacts(str(art), artifact_path="inputs-again")
        info = mlflow.pyfunc.log_model(name="model", python_model=AddN(5), pip_requirements=["mlflow"])
    version = mlflow.register_model(info.model_uri, "ds-model")
    assert {f.path for f in client.list_artifacts(run.info.run_id)} == {"inputs", "inputs-again"}
    # The same path again: write-once, refused (the client's artifact repository raises requests' HTTPError).
    with pytest.raises(requests.HTTPError) as again:
        client.log_artifact(run.info.run_id, str(art / "a.txt"), artifact_path="inputs")
    assert again.value.response.status_code == 409
    assert again.value.response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    # The registered version's files (the logged model's), rewritten or added to through the client: refused.
    repository = get_artifact_repository(client.get_logged_model(info.model_id).artifact_location)
    for name in ("MLmodel", "python_model.pkl", "extra.py"):
        target = tmp_path / name
        target.write_text("evil\n")
        with pytest.raises(requests.HTTPError) as rewrite:
            repository.log_artifact(str(target))
        assert rewrite.value.response.status_code == 403, name
    # Loading the registered version gives the logged model.
    loaded = mlflow.pyfunc.load_model(f"models:/ds-model/{version.version}")
    assert list(loaded.predict([1])) == [6]
