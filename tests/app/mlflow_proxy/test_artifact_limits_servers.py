"""Artifacts larger than the core's 1 MiB body limit stream through the proxy, bounded by their own limit.

Maestro runs here with ``MAESTRO_MLFLOW_PROXY_MAX_ARTIFACT_BYTES`` = 3 MiB, so a 2.5 MiB artifact (over the core
limit) must round-trip byte for byte and a 4 MiB one must be refused with MLflow's RESOURCE_EXHAUSTED, announced
(Content-Length, what the stock client sends) or streamed (chunked), without leaving anything behind.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import mlflow
import pytest
import requests
from maestro_api.core.config import Settings
from mlflow.tracking import MlflowClient

from tests.app.mlflow_proxy.conftest import Maestro, serve_maestro, use_key
from tests.app.registry.conftest import Tenant
from tests.mlflow_server import MlflowServer

pytestmark = [pytest.mark.servers, pytest.mark.anyio]

MiB = 1024 * 1024
LIMIT = 3 * MiB


@pytest.fixture
def maestro(proxy_settings: Settings, artifact_mlflow: MlflowServer) -> Iterator[Maestro]:
    """Maestro in front of MLflow with a 3 MiB artifact limit (overrides the package fixture)."""
    with serve_maestro(proxy_settings, artifact_mlflow, {"MAESTRO_MLFLOW_PROXY_MAX_ARTIFACT_BYTES": str(LIMIT)}) as m:
        yield m


def _stored(maestro: Maestro, name: str) -> list[Path]:
    """Every file called ``name`` anywhere in MLflow's artifact store."""
    return [p for p in maestro.artifact_dir.rglob(name) if p.is_file()]


async def test_large_artifacts_round_trip_and_oversized_ones_are_refused(
    mlflow_env: Maestro, two_tenants: tuple[Tenant, Tenant], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    a, _ = two_tenants
    use_key(monkeypatch, a.keys["data-scientist"])
    client = MlflowClient()
    run = client.create_run(client.create_experiment("big-artifacts"))
    run_id = run.info.run_id

    # 2.5 MiB: over the core's 1 MiB body limit, under the artifact limit; the stock client sends Content-Length.
    payload = os.urandom(5 * MiB // 2)
    (tmp_path / "weights.bin").write_bytes(payload)
    client.log_artifact(run_id, str(tmp_path / "weights.bin"))
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="weights.bin", dst_path=str(tmp_path / "d"))
    assert Path(got).read_bytes() == payload
    assert [p.read_bytes() == payload for p in _stored(mlflow_env, "weights.bin")] == [True]

    # 4 MiB through the stock client: refused at once from its Content-Length, in MLflow's shape, nothing stored.
    (tmp_path / "huge.bin").write_bytes(os.urandom(4 * MiB))
    with pytest.raises(requests.HTTPError) as refused:
        client.log_artifact(run_id, str(tmp_path / "huge.bin"))
    assert refused.value.response.status_code == 413
    error = refused.value.response.json()
    assert error["error_code"] == "RESOURCE_EXHAUSTED"
    assert str(LIMIT) in error["message"] and "MAESTRO_MLFLOW_PROXY_MAX_ARTIFACT_BYTES" in error["message"]
    assert "huge.bin" not in {f.path for f in client.list_artifacts(run_id)}
    assert _stored(mlflow_env, "huge.bin") == []

    # Chunked bodies (no Content-Length) are counted while they stream: under the limit they pass ...
    rel = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    url = f"{mlflow_env.tracking_uri}/api/2.0/mlflow-artifacts/artifacts/{rel}"
    headers = {"Authorization": f"Bearer {a.keys['data-scientist']}", "Content-Type": "application/octet-stream"}

    def chunks(data: bytes) -> AsyncIterator[bytes]:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(0, len(data), 256 * 1024):
                yield data[i : i + 256 * 1024]

        return gen()

    streamed = os.urandom(2 * MiB)
    async with httpx.AsyncClient(timeout=60) as http:
        ok = await http.put(f"{url}/streamed.bin", content=chunks(streamed), headers=headers)
        assert ok.status_code == 200, ok.text
        back = await http.get(f"{url}/streamed.bin", headers=headers)
        assert back.status_code == 200 and back.content == streamed

        # ... and over it they are cut off with 413 once the limit is passed; the half-sent object is not kept.
        try:
            cut = await http.put(f"{url}/cut.bin", content=chunks(os.urandom(4 * MiB)), headers=headers)
        except httpx.TransportError:
            cut = None  # the server may close the connection before the client has finished sending
        if cut is not None:
            assert cut.status_code == 413, cut.text
            assert cut.json()["error_code"] == "RESOURCE_EXHAUSTED"
        missing = await http.get(f"{url}/cut.bin", headers=headers)
        assert missing.status_code == 404
    assert "cut.bin" not in {f.path for f in client.list_artifacts(run_id)}
    assert _stored(mlflow_env, "cut.bin") == []
