"""Crafted ids, filters, names, paths, tokens and workspace headers from another tenant; a viewer's writes."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow
import pytest
import requests
from maestro_api.mlflow_proxy.table import ROUTES
from mlflow.entities import Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tests.app.mlflow_proxy.conftest import Maestro, use_key
from tests.app.registry.conftest import Tenant

pytestmark = [pytest.mark.servers, pytest.mark.anyio]


@pytest.fixture
def seeded(
    mlflow_env: Maestro, two_tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Tenant A's objects, made by its data scientist with the stock client: experiment, two runs, a metric, an
    artifact (tmp_path/weights.bin), a model version. The test then switches keys with `use_key`."""
    use_key(monkeypatch, two_tenants[0].keys["data-scientist"])
    client = MlflowClient()
    exp = client.create_experiment("secret-exp")
    run = client.create_run(exp)
    client.create_run(exp)
    client.log_metric(run.info.run_id, "auc", 0.9)
    f = tmp_path / "weights.bin"
    f.write_bytes(b"secret weights")
    client.log_artifact(run.info.run_id, str(f))
    client.create_registered_model("secret-model")
    client.create_model_version("secret-model", f"{run.info.artifact_uri}/weights.bin", run_id=run.info.run_id)
    token = client.search_runs([exp], max_results=1).token
    assert token
    rel = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    return {"exp": exp, "run": run.info.run_id, "artifact": f"{rel}/weights.bin", "token": token}


def _missing(call: object) -> None:
    with pytest.raises(MlflowException) as exc:
        call()  # type: ignore[operator]
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST", exc.value


async def test_other_tenant_sees_nothing_through_crafted_requests(
    mlflow_env: Maestro, two_tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch, seeded: dict[str, str]
) -> None:
    a, b = two_tenants
    use_key(monkeypatch, b.keys["tenant-admin"])
    client = MlflowClient()
    # Guessed ids and names answer like MLflow's missing objects.
    _missing(lambda: client.get_experiment(seeded["exp"]))
    _missing(lambda: client.get_run(seeded["run"]))
    _missing(lambda: client.log_param(seeded["run"], "x", "1"))
    _missing(lambda: client.get_metric_history(seeded["run"], "auc"))
    _missing(lambda: client.get_registered_model("secret-model"))
    _missing(lambda: client.get_model_version("secret-model", "1"))
    # Filters crafted to reach outside the workspace find nothing.
    # MLflow's filter grammar has no OR: a crafted OR is refused rather than widened; filters that parse find nothing.
    with pytest.raises(MlflowException) as refused:
        client.search_experiments(filter_string="name = 'secret-exp' OR name LIKE '%'")
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE", refused.value
    assert client.search_experiments(filter_string="name LIKE '%secret%'") == []
    assert client.search_registered_models(filter_string="name LIKE '%secret%'") == []
    assert client.search_model_versions(f"run_id = '{seeded['run']}'") == []
    mine = client.create_experiment("mine")
    assert client.search_runs([mine], filter_string=f"attributes.run_id = '{seeded['run']}'") == []
    # A's page token, replayed by B, pages through B's (empty) runs only.
    assert list(client.search_runs([mine], page_token=seeded["token"])) == []

    h = {"Authorization": f"Bearer {b.keys['tenant-admin']}"}
    base = mlflow_env.tracking_uri
    with httpx.Client(timeout=30) as http:
        # The client's own workspace header is dropped: Maestro sets B's.
        r = http.get(
            f"{base}/api/2.0/mlflow/runs/get",
            params={"run_id": seeded["run"]},
            headers={**h, "X-MLFLOW-WORKSPACE": f"mt-{a.id.hex}"},
        )
        assert (r.status_code, r.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
        # A's artifact, by its exact path: not in B's prefix.
        art = f"{base}/api/2.0/mlflow-artifacts/artifacts"
        assert http.get(f"{art}/{seeded['artifact']}", headers=h).status_code == 404
        # Escapes by path: dot segments (raw and encoded), the workspace prefix, absolute URIs, backslashes.
        for path in (
            f"workspaces/mt-{a.id.hex}/{seeded['artifact']}",
            f"%2e%2e/workspaces/mt-{a.id.hex}/{seeded['artifact']}",
            f"x/%252e%252e/{seeded['artifact']}",
            f"s3:%2F%2Fbucket/{seeded['artifact']}",
            f"x\\..\\{seeded['artifact']}",
        ):
            r = http.get(f"{art}/{path}", headers=h)
            assert r.status_code in (400, 404), (path, r.status_code)
            assert r.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"), path
        r = http.get(art, params={"path": f"../workspaces/mt-{a.id.hex}"}, headers=h)
        assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        # Listing B's root shows none of A's files.
        r = http.get(art, headers=h)
        assert r.status_code == 200 and "weights.bin" not in r.text
        # Locations and sources pointing elsewhere are refused.
        r = http.post(
            f"{base}/api/2.0/mlflow/experiments/create",
            json={"name": "evil", "artifact_location": "file:///etc"},
            headers=h,
        )
        assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        client.create_registered_model("b-model")
        for source in (
            f"mlflow-artifacts:/workspaces/mt-{a.id.hex}/{seeded['artifact']}",
            "mlflow-artifacts://evil.example/x",
            f"file://{mlflow_env.artifact_dir}/workspaces/mt-{a.id.hex}",
        ):
            r = http.post(
                f"{base}/api/2.0/mlflow/model-versions/create", json={"name": "b-model", "source": source}, headers=h
            )
            assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), source
        # Routes outside the allow list are not relayed (workspaces API, traces).
        assert http.get(f"{base}/api/3.0/mlflow/workspaces", headers=h).status_code == 404
        assert http.get(f"{base}/api/2.0/mlflow/workspaces", headers=h).status_code == 404

    # A still has everything.
    use_key(monkeypatch, a.keys["viewer"])
    assert MlflowClient().get_run(seeded["run"]).data.metrics == {"auc": 0.9}


async def test_viewer_reads_but_every_write_is_refused_in_mlflow_shape(
    mlflow_env: Maestro,
    two_tenants: tuple[Tenant, Tenant],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    seeded: dict[str, str],
) -> None:
    a, _ = two_tenants
    use_key(monkeypatch, a.keys["viewer"])
    client = MlflowClient()
    # Reads and downloads work.
    assert client.get_run(seeded["run"]).data.metrics == {"auc": 0.9}
    assert [m.name for m in client.search_registered_models()] == ["secret-model"]
    got = mlflow.artifacts.download_artifacts(run_id=seeded["run"], artifact_path="weights.bin", dst_path=str(tmp_path))
    assert Path(got).read_bytes() == b"secret weights"
    # Writes through the stock client: PERMISSION_DENIED.
    for write in (
        lambda: client.create_experiment("nope"),
        lambda: client.log_param(seeded["run"], "x", "1"),
        lambda: client.log_batch(seeded["run"], params=[Param("y", "2")]),  # the client never sends an empty batch
        lambda: client.set_registered_model_alias("secret-model", "prod", "1"),
    ):
        with pytest.raises(MlflowException) as exc:
            write()
        assert exc.value.error_code == "PERMISSION_DENIED", exc.value
    # The client's artifact repository raises requests' HTTPError rather than MlflowException; the body is MLflow's.
    with pytest.raises(requests.HTTPError) as upload:
        client.log_artifact(seeded["run"], str(tmp_path / "weights.bin"))
    assert upload.value.response.status_code == 403
    assert upload.value.response.json()["error_code"] == "PERMISSION_DENIED"
    # Every mutating route of the allow list, raw: 403 with MLflow's error shape.
    h = {"Authorization": f"Bearer {a.keys['viewer']}"}
    refused = 0
    with httpx.Client(timeout=30) as http:
        for route in ROUTES:
            if not route.mutating:
                continue
            path = route.path.replace("{artifact_path:path}", "x/y.txt").replace("{model_id}", "m-1")
            r = http.request(
                route.method, f"{mlflow_env.tracking_uri}/{path.replace('{tag_key}', 'k')}", json={}, headers=h
            )
            assert r.status_code == 403, (route, r.status_code, r.text)
            assert r.json()["error_code"] == "PERMISSION_DENIED"
            assert "message" in r.json()
            refused += 1
        # No key at all: 401 UNAUTHENTICATED, with the challenge.
        r = http.get(f"{mlflow_env.tracking_uri}/api/2.0/mlflow/runs/get", params={"run_id": seeded["run"]})
        assert (r.status_code, r.json()["error_code"]) == (401, "UNAUTHENTICATED")
        assert "www-authenticate" in r.headers
        # Audit: the viewer's denials and the data scientist's successful writes are in the tenant's log.
        events = http.get(
            f"{mlflow_env.server.url}/v1/audit-events?limit=500",
            headers={"Authorization": f"Bearer {a.keys['tenant-admin']}"},
        ).json()["items"]
        metrics = http.get(f"{mlflow_env.server.url}/metrics").text
    # every mutating route of the allow list (39 today) was refused; the floor proves the loop ran over the table
    assert refused == sum(1 for r in ROUTES if r.mutating) >= 39
    assert any(e["outcome"] == "denied" and e["action"] == "runs:update" for e in events)
    assert any(e["outcome"] == "success" and e["target"].startswith("mlflow:PUT") for e in events)
    assert any(e["outcome"] == "success" and e["action"] == "versions:create" for e in events)
    assert 'maestro_mlflow_proxy_request_duration_seconds_count{route="POST runs/log-metric"}' in metrics
