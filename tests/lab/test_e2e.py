"""End to end through the WAF over HTTPS: a tenant's admin creates a model and a version through the API (MLflow on
the Patroni cluster behind it), the WAF blocks an attack on the same path, and Prometheus scrapes every target and
has loaded Maestro's rules."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from maestro.lab.topology import HOSTS, host_by_name
from maestro.paths import ROOT

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def api(lab_endpoints: dict[str, Any], ca_file: str) -> httpx.Client:
    key_file = lab_endpoints.get("admin_key_file")
    if not key_file:
        pytest.fail("the lab bootstrapped no tenant: the API is not deployed (see `make lab` output)")
    key = Path(key_file).read_text().strip()
    # The edge's certificate names its IP too, so the client verifies it against the lab CA without DNS; the
    # Host header is the server name the WAF serves.
    return httpx.Client(
        base_url=lab_endpoints["api"],
        verify=ca_file,
        headers={
            "Authorization": f"Bearer {key}",
            "Host": lab_endpoints["api_hostname"],
            "Accept": "application/json",
            "User-Agent": "maestro-lab-tests",
        },
        timeout=30,
    )


def test_edge_serves_https_only(lab_endpoints: dict[str, Any], ports: dict[str, int]) -> None:
    edge = host_by_name("edge1").ip
    resp = httpx.get(f"http://{edge}:{ports['http']}/healthz", headers={"Host": lab_endpoints["api_hostname"]})
    assert resp.status_code in (301, 308)
    assert resp.headers["location"].startswith("https://")


def test_create_a_model_and_a_version_through_the_waf(api: httpx.Client, lab_endpoints: dict[str, Any]) -> None:
    assert api.get("/edge-healthz").status_code == 200
    tenants = api.get("/v1/tenants")
    assert tenants.status_code == 200, tenants.text
    tenant_id = tenants.json()[0]["id"]
    name = f"lab-e2e-{uuid.uuid4().hex[:8]}"
    # A run through the MLflow proxy (as the stock client makes one), so the version has a run and a source in
    # the run's artifact location, under the tenant's root.
    exp = api.post("/mlflow/api/2.0/mlflow/experiments/create", json={"name": name})
    assert exp.status_code == 200, exp.text
    run = api.post("/mlflow/api/2.0/mlflow/runs/create", json={"experiment_id": exp.json()["experiment_id"]})
    assert run.status_code == 200, run.text
    info = run.json()["run"]["info"]
    source = f"{info['artifact_uri']}/model"
    assert source.startswith(f"mlflow-artifacts:/tenants/{tenant_id}/")
    created = api.post(
        "/v1/models",
        json={"name": name, "description": "Churn model; it SELECTs the 'best' features from users -- really."},
    )
    assert created.status_code == 201, created.text
    version = api.post(
        f"/v1/models/{name}/versions", json={"source": source, "run_id": info["run_id"], "description": "first"}
    )
    assert version.status_code == 201, version.text
    got = api.get(f"/v1/models/{name}/versions/{version.json()['version']}")
    assert got.status_code == 200
    assert got.json()["source"] == source


def test_the_waf_blocks_an_injection_on_the_same_route(api: httpx.Client) -> None:
    resp = api.get("/v1/models", params={"filter": "' OR 1=1 UNION SELECT password FROM users--"})
    assert resp.status_code == 403


def test_requests_without_a_key_are_refused(lab_endpoints: dict[str, Any], ca_file: str) -> None:
    resp = httpx.get(
        f"{lab_endpoints['api']}/v1/models",
        verify=ca_file,
        headers={"Host": lab_endpoints["api_hostname"], "Accept": "application/json"},
    )
    assert resp.status_code == 401


def _prom(lab_endpoints: dict[str, Any], path: str) -> Any:
    password = json.loads(Path(lab_endpoints["secrets_file"]).read_text())["prometheus_password"]
    token = base64.b64encode(f"maestro:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    request = urllib.request.Request(f"{lab_endpoints['prometheus']}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)["data"]


def test_prometheus_scrapes_every_target(lab_endpoints: dict[str, Any]) -> None:
    deadline = time.monotonic() + 90
    while True:
        targets = _prom(lab_endpoints, "/api/v1/targets")["activeTargets"]
        down = [(t["labels"]["job"], t["scrapeUrl"], t["lastError"]) for t in targets if t["health"] != "up"]
        if not down or time.monotonic() > deadline:
            break
        time.sleep(5)
    jobs = {t["labels"]["job"] for t in targets}
    assert {"node", "postgres", "patroni", "etcd", "redis", "haproxy", "prometheus", "alertmanager"} <= jobs
    assert len([t for t in targets if t["labels"]["job"] == "node"]) == len(HOSTS)
    assert down == []


def test_prometheus_loaded_the_rules_from_dashboards(lab_endpoints: dict[str, Any]) -> None:
    groups = _prom(lab_endpoints, "/api/v1/rules")["groups"]
    loaded = {g["name"] for g in groups}
    alerts = {r["name"] for g in groups for r in g["rules"] if r["type"] == "alerting"}
    expected: set[str] = set()
    expected_alerts: set[str] = set()
    for f in sorted((ROOT / "dashboards" / "rules").glob("*.yml")):
        for g in (yaml.safe_load(f.read_text()) or {}).get("groups", []):
            expected.add(g["name"])
            expected_alerts |= {r["alert"] for r in g["rules"] if "alert" in r}
    assert expected, "dashboards/rules/ has no rule groups"
    assert expected <= loaded
    # The rules API lists every alert of dashboards/rules/.
    assert len(expected_alerts) >= 40
    assert expected_alerts <= alerts, sorted(expected_alerts - alerts)


def test_backup_metrics_reach_prometheus(lab_endpoints: dict[str, Any]) -> None:
    deadline = time.monotonic() + 90
    while True:
        result = _prom(lab_endpoints, "/api/v1/query?query=maestro_wal_archive_last_success_timestamp_seconds")[
            "result"
        ]
        if result or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert len(result) == 1
    assert float(result[0]["value"][1]) > 0


def test_waf_metrics_reach_prometheus(lab_endpoints: dict[str, Any]) -> None:
    # The edge's log tailer (nginx_waf role) runs every minute; the requests and the blocked injection above
    # show up in its counters, and the rule engine reports blocking mode.
    def value(query: str) -> float | None:
        result = _prom(lab_endpoints, f"/api/v1/query?query={query}")["result"]
        return float(result[0]["value"][1]) if result else None

    deadline = time.monotonic() + 150
    while True:
        requests, blocked = value("maestro_waf_requests_total"), value("maestro_waf_blocked_requests_total")
        if (requests and blocked) or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert requests is not None and requests >= 1
    assert blocked is not None and blocked >= 1
    assert value("maestro_waf_rule_engine_enabled") == 1
