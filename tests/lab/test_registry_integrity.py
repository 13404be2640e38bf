"""Registry integrity through the whole lab (WAF over HTTPS -> the API -> MLflow on Patroni, artifacts on S3), acting
as a tenant's data scientist: a registered version's bytes cannot be changed without ``models:promote``, a change
through /mlflow is seen on /v1 at once, and a free-tier tenant stops exactly at its quota on both paths, also
under concurrent creates. Keys of each role are made through /v1 with the tenant admin's key."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from maestro.lab.nspawn import ssh
from maestro.lab.topology import host_by_name

pytestmark = pytest.mark.lab

ML = "/mlflow/api/2.0/mlflow"
ART = "/mlflow/api/2.0/mlflow-artifacts/artifacts"
FREE_MAX_MODELS = 10  # crud.DEFAULT_QUOTAS["free"]
FREE_MAX_DEPLOYMENTS = 2


class Edge:
    """The lab's edge as one tenant's principals reach it: a client per API key."""

    def __init__(self, lab_endpoints: dict[str, Any], ca_file: str, admin_key: str) -> None:
        self._endpoints = lab_endpoints
        self._ca_file = ca_file
        self.keys = {"tenant-admin": admin_key}

    def as_role(self, role: str) -> httpx.Client:
        return httpx.Client(
            base_url=self._endpoints["api"],
            verify=self._ca_file,
            timeout=60,
            headers={
                "Authorization": f"Bearer {self.keys[role]}",
                "Host": self._endpoints["api_hostname"],
                "Accept": "application/json",
                "User-Agent": "maestro-lab-tests",
            },
        )

    def make_keys(self, *roles: str) -> None:
        """A user of each role, and a key acting for it (every key made through /v1 acts for a user)."""
        with self.as_role("tenant-admin") as admin:
            for role in roles:
                tag = f"lab-{role}-{uuid.uuid4().hex[:6]}"
                r = admin.post("/v1/users", json={"email": f"{tag}@lab.test", "role": role})
                assert r.status_code == 201, r.text
                body = {"name": tag, "role": role, "user_id": r.json()["id"]}
                r = admin.post("/v1/api-keys", json=body)
                assert r.status_code == 201, r.text
                self.keys[role] = r.json()["key"]


def _admin_key(lab_endpoints: dict[str, Any]) -> str:
    key_file = lab_endpoints.get("admin_key_file")
    if not key_file:
        pytest.fail("the lab bootstrapped no tenant: the API is not deployed (see `make lab` output)")
    return Path(key_file).read_text().strip()


@pytest.fixture(scope="module")
def lab_tenant(lab_endpoints: dict[str, Any], ca_file: str) -> Edge:
    """The bootstrapped tenant (standard tier), with a data scientist's and an ml-engineer's key."""
    edge = Edge(lab_endpoints, ca_file, _admin_key(lab_endpoints))
    edge.make_keys("data-scientist", "ml-engineer")
    return edge


@pytest.fixture(scope="module")
def free_tenant(lab_endpoints: dict[str, Any], ca_file: str) -> Edge:
    """A new free-tier tenant, bootstrapped on the API host as `make lab` does the first one."""
    name = f"lab-free-{uuid.uuid4().hex[:6]}"
    out = ssh(host_by_name("app1"), f"/usr/local/bin/maestro-api-admin bootstrap --tenant {name} --tier free").stdout
    edge = Edge(lab_endpoints, ca_file, out.strip().splitlines()[-1].strip())
    edge.make_keys("data-scientist", "ml-engineer")
    return edge


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, (r.request.url, r.text)
    body: dict[str, Any] = r.json()
    return body


def _registered_champion(edge: Edge, name: str) -> str:
    """A data scientist's run with model bytes, registered; an ml-engineer aliases it ``champion``. Returns the
    path of the model's weights in the artifact proxy."""
    with edge.as_role("data-scientist") as ds, edge.as_role("ml-engineer") as ml:
        exp = _ok(ds.post(f"{ML}/experiments/create", json={"name": name}))
        run = _ok(ds.post(f"{ML}/runs/create", json={"experiment_id": exp["experiment_id"]}))["run"]["info"]
        root = run["artifact_uri"].removeprefix("mlflow-artifacts:/")
        weights = f"{root}/model/weights.bin"
        put = ds.put(f"{ART}/{weights}", content=b"reviewed", headers={"Content-Type": "application/octet-stream"})
        assert put.status_code == 200, put.text
        _ok(ds.post(f"{ML}/registered-models/create", json={"name": name}))
        source = f"{run['artifact_uri']}/model"
        _ok(ds.post(f"{ML}/model-versions/create", json={"name": name, "source": source, "run_id": run["run_id"]}))
        _ok(ml.post(f"{ML}/registered-models/alias", json={"name": name, "alias": "champion", "version": "1"}))
    return weights


def test_a_data_scientist_cannot_change_a_registered_versions_bytes(lab_tenant: Edge) -> None:
    name = f"lab-integrity-{uuid.uuid4().hex[:8]}"
    weights = _registered_champion(lab_tenant, name)
    octets = {"Content-Type": "application/octet-stream"}
    with lab_tenant.as_role("data-scientist") as ds, lab_tenant.as_role("ml-engineer") as ml:
        overwrite = ds.put(f"{ART}/{weights}", content=b"evil", headers=octets)
        assert (overwrite.status_code, overwrite.json()["error_code"]) == (403, "PERMISSION_DENIED"), overwrite.text
        added = ds.put(f"{ART}/{weights.rsplit('/', 1)[0]}/extra.py", content=b"evil", headers=octets)
        assert added.status_code == 403, added.text
        deleted = ds.delete(f"{ART}/{weights}")
        assert (deleted.status_code, deleted.json()["error_code"]) == (403, "PERMISSION_DENIED"), deleted.text
        # An ml-engineer (models:promote) may delete, never overwrite.
        again = ml.put(f"{ART}/{weights}", content=b"engineer", headers=octets)
        assert (again.status_code, again.json()["error_code"]) == (409, "RESOURCE_ALREADY_EXISTS"), again.text
        got = ds.get(f"{ART}/{weights}")
        assert (got.status_code, got.content) == (200, b"reviewed")
        # A missing artifact (S3 behind MLflow) answers 404, not 500.
        missing = ds.get(f"{ART}/{weights}.missing")
        assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST"), missing.text


def test_a_change_through_mlflow_is_visible_on_v1_at_once(lab_tenant: Edge) -> None:
    name = f"lab-coherence-{uuid.uuid4().hex[:8]}"
    _registered_champion(lab_tenant, name)
    with lab_tenant.as_role("ml-engineer") as ml:
        for _ in range(2):  # the second read is served from the cache
            assert ml.get(f"/v1/models/{name}/aliases/champion").json()["version"] == "1"
        _ok(ml.request("DELETE", f"{ML}/registered-models/alias", json={"name": name, "alias": "champion"}))
        gone = ml.get(f"/v1/models/{name}/aliases/champion")
        assert gone.status_code == 404, gone.text
        _ok(ml.patch(f"{ML}/registered-models/update", json={"name": name, "description": "through mlflow"}))
        assert ml.get(f"/v1/models/{name}").json()["description"] == "through mlflow"


def test_a_free_tier_tenant_stops_at_its_quota_on_both_paths(free_tenant: Edge) -> None:
    def create(i: int) -> httpx.Response:
        with free_tenant.as_role("data-scientist" if i % 2 else "ml-engineer") as client:
            if i % 2:
                return client.post(f"{ML}/registered-models/create", json={"name": f"q-{i}"})
            return client.post("/v1/models", json={"name": f"q-{i}"})

    burst = FREE_MAX_MODELS + 6
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(create, range(burst)))
    created = [r for r in answers if r.status_code in (200, 201)]
    refused = [r for r in answers if r.status_code == 409]
    assert (len(created), len(refused)) == (FREE_MAX_MODELS, burst - FREE_MAX_MODELS), [r.text for r in answers]
    for r in refused:
        if r.request.url.path.startswith("/v1"):
            assert (r.json()["quota"], r.json()["limit"]) == ("max_models", FREE_MAX_MODELS), r.text
        else:
            assert r.json()["error_code"] == "QUOTA_EXCEEDED", r.text
    with free_tenant.as_role("ml-engineer") as ml:
        assert ml.post("/v1/models", json={"name": "one-more"}).status_code == 409
        listed = _ok(ml.get(f"{ML}/registered-models/search", params={"max_results": 100}))
        assert len(listed["registered_models"]) == FREE_MAX_MODELS

        # Deployments: a version of one of the models, then a concurrent burst against max_deployments.
        model = (created[0].json().get("name")) or created[0].json()["registered_model"]["name"]
        exp = _ok(ml.post(f"{ML}/experiments/create", json={"name": f"q-{uuid.uuid4().hex[:6]}"}))
        run = _ok(ml.post(f"{ML}/runs/create", json={"experiment_id": exp["experiment_id"]}))["run"]["info"]
        version = {"source": f"{run['artifact_uri']}/model", "run_id": run["run_id"]}
        assert ml.post(f"/v1/models/{model}/versions", json=version).status_code == 201
    variants = [{"name": "only", "model": model, "version": "1", "weight": 100}]

    def deploy(i: int) -> httpx.Response:
        with free_tenant.as_role("ml-engineer") as client:
            return client.post("/v1/deployments", json={"name": f"d{i}", "variants": variants})

    with ThreadPoolExecutor(max_workers=6) as pool:
        deployed = list(pool.map(deploy, range(6)))
    statuses = sorted(r.status_code for r in deployed)
    assert statuses == [201] * FREE_MAX_DEPLOYMENTS + [409] * (6 - FREE_MAX_DEPLOYMENTS), [r.text for r in deployed]
