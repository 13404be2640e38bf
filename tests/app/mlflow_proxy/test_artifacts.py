"""The artifact rules that need no server: which run or logged model owns a path, where a version's bytes are,
what overlaps what; the allow list's cache families; a missing artifact that an object store fails with a 500."""

from __future__ import annotations

import httpx
import pytest
from maestro_api.mlflow_proxy.artifacts import Owner, _location, overlaps, owner_of
from maestro_api.mlflow_proxy.errors import MlflowApiError
from maestro_api.mlflow_proxy.forward import MlflowForwarder
from maestro_api.mlflow_proxy.table import ROUTES
from maestro_api.registry.cache import FAMILIES

RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-" + "f" * 32


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        (f"tenants/t/1/{RUN}/artifacts/model/MLmodel", Owner("run", RUN, f"tenants/t/1/{RUN}/artifacts")),
        (f"1/{RUN}/artifacts", Owner("run", RUN, f"1/{RUN}/artifacts")),
        (f"tenants/t/1/models/{MODEL}/artifacts/x", Owner("model", MODEL, f"tenants/t/1/models/{MODEL}/artifacts")),
        (f"tenants/t/1/{RUN}", None),  # above the run's artifacts
        ("tenants/t/1", None),
        (f"tenants/t/1/{RUN[:-1]}/artifacts/x", None),  # not a run id
        (f"tenants/t/1/models/{RUN}/artifacts/x", Owner("run", RUN, f"tenants/t/1/models/{RUN}/artifacts")),
        ("artifacts/x", None),
    ],
)
def test_owner_of(path: str, owner: Owner | None) -> None:
    assert owner_of(path) == owner


def test_overlaps_by_segment_and_by_prefix() -> None:
    assert overlaps("a/model", "a/model") and overlaps("a/model/x", "a/model") and overlaps("a", "a/model")
    assert not overlaps("a/mod", "a/model") and not overlaps("a/model2", "a/model")
    # A delete in an object store reaches every key with the prefix.
    assert overlaps("a/mod", "a/model", as_prefix=True) and not overlaps("a/other", "a/model", as_prefix=True)


def test_location_of_a_versions_bytes() -> None:
    run = Owner("run", RUN, f"t/1/{RUN}/artifacts")
    assert _location(f"mlflow-artifacts:/t/1/{RUN}/artifacts/model", run) == f"t/1/{RUN}/artifacts/model"
    assert _location(f"runs:/{RUN}/model", run) == f"t/1/{RUN}/artifacts/model"
    assert _location(f"runs:/{RUN}", run) == f"t/1/{RUN}/artifacts"
    assert _location(f"runs:/{'1' * 32}/model", run) is None  # another run's
    assert _location("mlflow-artifacts://host/x", run) is None
    assert _location("s3://bucket/x", run) is None
    model = Owner("model", MODEL, f"t/1/models/{MODEL}/artifacts")
    assert _location(f"runs:/{RUN}/model", model) is None


def test_every_mutating_route_names_what_it_changes() -> None:
    """Registry writes drop their families (models, experiments, runs); artifact routes change no cached read."""
    for route in ROUTES:
        if not route.mutating:
            assert route.invalidates == () and route.quota is None, route
        elif route.kind == "json":
            assert route.invalidates and set(route.invalidates) <= set(FAMILIES), route
        else:
            assert route.invalidates == (), route
    quota_routes = [r.name for r in ROUTES if r.quota]
    assert quota_routes == ["POST registered-models/create"]
    for name in ("POST registered-models/alias", "DELETE registered-models/alias", "POST model-versions/create"):
        assert next(r for r in ROUTES if r.name == name).invalidates == ("models",)
    assert {r.method for r in ROUTES if r.kind.startswith("artifact_") and r.mutating} == {"PUT", "DELETE"}


@pytest.mark.anyio
@pytest.mark.parametrize(("listed", "expected"), [([], 404), ([{"path": "w.bin", "is_dir": False}], 502)])
async def test_a_download_failed_with_a_500_is_a_404_when_the_file_is_not_listed(
    listed: list[dict[str, object]], expected: int
) -> None:
    """S3 answers a missing key as an error that MLflow turns into a 500: the directory listing tells them apart."""

    def mlflow(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/artifacts"):
            assert request.url.params["path"] == "1/run/artifacts"
            return httpx.Response(200, json={"files": listed})
        return httpx.Response(500, json={"error_code": "INTERNAL_ERROR", "message": "botocore 404 NoSuchKey at s3://b"})

    forwarder = MlflowForwarder(base_url="http://m", timeout_seconds=1, transport=httpx.MockTransport(mlflow))
    with pytest.raises(MlflowApiError) as exc:
        await forwarder.download(path="1/run/artifacts/w.bin", workspace="mt-x", route="GET artifact")
    assert exc.value.status == expected
    assert "botocore" not in (exc.value.detail or "")
    await forwarder.aclose()
