"""The app's routes as ``api/main.py`` lays them out: ``/mlflow`` on its own mount, the /v1 routers, health; the
HTTP metrics name every route by its full template, mounted or not (no server: authentication is stubbed)."""

from __future__ import annotations

import httpx
import pytest
from maestro_api.core.config import Settings
from maestro_api.core.security import Principal, unauthorized
from maestro_api.main import create_app
from maestro_api.metrics import REGISTRY
from starlette.routing import Mount

pytestmark = pytest.mark.anyio
ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts"


class Refuse:
    async def authenticate(self, authorization: str | None, *, client: str | None = None) -> Principal:
        raise unauthorized("missing", "No credentials.")


def requests(route: str, status: int) -> float:
    labels = {"method": "GET", "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("maestro_http_requests_total", labels) or 0.0


async def test_every_route_is_labelled_by_its_full_template() -> None:
    app = create_app(Settings())
    app.state.authenticator = Refuse()
    cases = [
        ("/mlflow/api/2.0/mlflow/experiments/get", "/mlflow/api/2.0/mlflow/experiments/get", 401),
        ("/mlflow/api/2.0/mlflow-artifacts/artifacts/a/b", f"{ARTIFACTS}/{{artifact_path:path}}", 401),
        ("/mlflow/api/2.0/mlflow/nothing-here", "unmatched", 404),
        ("/v1/tenants", "/v1/tenants", 401),
        ("/v1/models/churn", "/v1/models/{name}", 401),
        ("/healthz", "/healthz", 200),
    ]  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for path, route, status in cases:
            before = requests(route, status)
            r = await c.get(path)
            assert r.status_code == status, (path, r.text)
            assert requests(route, status) == before + 1, (path, route)
        # Under /mlflow refusals come in MLflow's shape; elsewhere as problem+json.
        assert (await c.get("/mlflow/api/2.0/mlflow/experiments/get")).json()["error_code"] == "UNAUTHENTICATED"
        assert (await c.get("/v1/tenants")).headers["content-type"] == "application/problem+json"


def test_mlflow_is_a_mount_of_its_own_and_the_v1_routers_are_not_nested() -> None:
    app = create_app(Settings())
    mounts = [r for r in app.routes if isinstance(r, Mount)]
    assert [m.path for m in mounts] == ["/mlflow"]
    assert all(not r.path.startswith("/mlflow") for r in mounts[0].routes)  # type: ignore[attr-defined]
