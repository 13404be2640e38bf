"""Security and wiring of the Kubernetes workloads, asserted per resource for every shipped stack."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pytest

from components.workloads.namespaces import LEVELS, NAMES
from maestro.offline import mockrun
from tests.components.stacks import PORTS, SHIPPED, by_suffix, evaluated, pod_specs

pytestmark = pytest.mark.stacks

# The one documented exception to restricted: the operator writes Spilo's pod spec (see namespaces.py).
RESTRICTED = {ns for ns, level in LEVELS.items() if level == "restricted"}


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_pod_runs_restricted(stack: str) -> None:
    specs = list(pod_specs(evaluated(stack)))
    assert len(specs) >= 4, "API, MLflow and their migration Jobs at least"
    for resource, spec in specs:
        sc = spec["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["seccompProfile"]["type"] == "RuntimeDefault", resource.urn
        for c in _containers(spec):
            csc = c["securityContext"]
            assert csc["allowPrivilegeEscalation"] is False, (resource.urn, c["name"])
            assert csc["capabilities"]["drop"] == ["ALL"], (resource.urn, c["name"])
            assert csc["readOnlyRootFilesystem"] is True, (resource.urn, c["name"])


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_container_has_requests_limits_and_a_pinned_image(stack: str) -> None:
    for resource, spec in pod_specs(evaluated(stack)):
        for c in _containers(spec):
            res = c["resources"]
            assert set(res["requests"]) == {"cpu", "memory"} == set(res["limits"]), (resource.urn, c["name"])
            image = c["image"]
            assert not image.endswith(":latest") and re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", image), image


@pytest.mark.parametrize("stack", SHIPPED)
def test_namespaces_carry_pod_security_labels(stack: str) -> None:
    namespaces = {
        mockrun.plain(r.inputs)["metadata"]["name"]: mockrun.plain(r.inputs)["metadata"]["labels"]
        for r in evaluated(stack).of_type("kubernetes:core/v1:Namespace")
    }
    for ns, level in LEVELS.items():
        assert namespaces[ns]["pod-security.kubernetes.io/enforce"] == level
        assert namespaces[ns]["pod-security.kubernetes.io/audit"] == "restricted"
    assert {NAMES.app, NAMES.system, NAMES.monitoring} <= RESTRICTED


@pytest.mark.parametrize("stack", SHIPPED)
def test_default_deny_in_every_platform_namespace(stack: str) -> None:
    policies = [
        mockrun.plain(r.inputs) for r in evaluated(stack).of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    ]
    for ns in (NAMES.app, NAMES.data, NAMES.system, NAMES.monitoring, NAMES.node_exporter):
        deny = [p for p in policies if p["metadata"]["namespace"] == ns and p["metadata"]["name"] == "default-deny"]
        assert len(deny) == 1, ns
        spec = deny[0]["spec"]
        assert spec["podSelector"] == {} and set(spec["policyTypes"]) == {"Ingress", "Egress"}
        assert spec["ingress"] == [] and spec["egress"] == []


def _policy(stack: str, ns: str, name: str) -> dict[str, Any]:
    for r in evaluated(stack).of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy"):
        meta = r.inputs["metadata"]
        if meta["namespace"] == ns and meta["name"] == name:
            return dict(mockrun.plain(r.inputs)["spec"])
    raise KeyError(name)


def _sources(rule: dict[str, Any]) -> list[str]:
    return [
        p.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name", "")
        + "/"
        + ",".join(p.get("podSelector", {}).get("matchLabels", {}).values())
        for p in rule.get("from", [])
    ]


def test_postgres_accepts_only_the_platform_clients() -> None:
    spec = _policy("dev-kind", NAMES.data, "postgres")
    clients = _sources(spec["ingress"][0])
    assert spec["ingress"][0]["ports"] == [{"protocol": "TCP", "port": PORTS.postgres}]
    assert clients == [
        "maestro/maestro-api",
        "maestro/mlflow",
        "maestro-data/spilo",
        "maestro/migration",
        "maestro-system/postgres-operator",
    ]
    everyone = {s for rule in spec["ingress"] for s in _sources(rule)}
    assert not any(s.startswith("/") for s in everyone), "no peer without a namespace selector"


def test_mlflow_is_reachable_only_from_the_api() -> None:
    spec = _policy("dev-kind", NAMES.app, "mlflow")
    assert [_sources(rule) for rule in spec["ingress"]] == [["maestro/maestro-api"]]


@pytest.mark.parametrize("stack", SHIPPED)
def test_mlflow_asks_every_caller_for_the_apis_token(stack: str) -> None:
    """MLflow runs the maestro-auth app with a generated token from a Secret; the API's Secret carries the same
    token; the probes open a connection (an HTTP probe would need the token in the pod spec)."""
    resources = evaluated(stack)
    container = mockrun.plain(by_suffix(resources, "-mlflow-deployment").inputs)["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["args"][:2] == ["--app-name", "maestro-auth"]
    token_env = [e for e in container["env"] if e["name"] == "MAESTRO_MLFLOW_TOKEN"]
    assert token_env == [
        {"name": "MAESTRO_MLFLOW_TOKEN", "valueFrom": {"secretKeyRef": {"name": "mlflow-token", "key": "token"}}}
    ]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["tcpSocket"] == {"port": "http"}
    secrets = {r.inputs["metadata"]["name"]: r for r in resources.of_type("kubernetes:core/v1:Secret")}
    mlflow_token = mockrun.unwrap_secret(secrets["mlflow-token"].inputs["stringData"])["token"]
    api_data = mockrun.unwrap_secret(secrets["maestro-api"].inputs["stringData"])
    assert api_data["MAESTRO_MLFLOW_TOKEN"] == mlflow_token
    assert "--expose-prometheus" not in container["args"]


def test_in_cluster_redis_only_on_plain_kubernetes() -> None:
    kind_sets = [r for r in evaluated("dev-kind").of_type("kubernetes:apps/v1:StatefulSet")]
    assert [r.inputs["metadata"]["name"] for r in kind_sets] == ["redis"]
    assert not evaluated("dev-aws").of_type("kubernetes:apps/v1:StatefulSet")
    redis_cmd = mockrun.plain(kind_sets[0].inputs)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--requirepass" in redis_cmd


@pytest.mark.parametrize("stack", SHIPPED)
def test_generated_secrets_are_secret_outputs_in_kubernetes_secrets(stack: str) -> None:
    secrets = evaluated(stack).of_type("kubernetes:core/v1:Secret")
    api = [r for r in secrets if r.inputs["metadata"]["name"] == "maestro-api"]
    assert len(api) == 1 and mockrun.is_secret(api[0].inputs["stringData"])
    data = mockrun.unwrap_secret(api[0].inputs["stringData"])
    assert set(data) == {
        "MAESTRO_DATABASE_URL",
        "MAESTRO_REDIS_URL",
        "MAESTRO_API_KEY_PEPPER",
        "MAESTRO_AUDIT_KEY",
        "MAESTRO_MLFLOW_TOKEN",
    }
    by_name = _named(evaluated(stack), "kubernetes:core/v1:Secret")
    assert set(mockrun.unwrap_secret(by_name["maestro-api-migrate"].inputs["stringData"])) == {
        "MAESTRO_DATABASE_OWNER_URL"
    }
    assert set(mockrun.unwrap_secret(by_name["maestro-api-metrics"].inputs["stringData"])) == {"token"}
    for r in secrets:
        assert mockrun.is_secret(r.inputs["stringData"]), f"{r.urn} holds a plaintext value"
    # No password-like value appears outside a secret anywhere in the program.
    for r in evaluated(stack):
        if r.type != "kubernetes:core/v1:Secret":
            assert "M0ckM0ck" not in str({k: v for k, v in r.inputs.items() if not mockrun.is_secret(v)}), r.urn


@pytest.mark.parametrize("stack", SHIPPED)
def test_api_probes_hpa_pdb_and_settings(stack: str) -> None:
    resources = evaluated(stack)
    deployment = mockrun.plain(by_suffix(resources, "-api-deployment").inputs)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["MAESTRO_MLFLOW_URL"].startswith("http://mlflow.maestro.svc")
    assert container["envFrom"] == [{"secretRef": {"name": "maestro-api"}}]
    assert env["MAESTRO_METRICS_TOKEN"] == {"secretKeyRef": {"name": "maestro-api-metrics", "key": "token"}}
    # Prometheus scrapes with the same token; the other ServiceMonitors send none.
    monitors = {
        spec["metadata"]["name"]: spec["spec"]["endpoints"][0]
        for spec in (
            mockrun.plain(r.inputs) for r in resources.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
        )
    }
    assert monitors["maestro-api"]["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "maestro-api-metrics", "key": "token"},
    }
    assert all("authorization" not in e for n, e in monitors.items() if n != "maestro-api")
    hpa = mockrun.plain(by_suffix(resources, "-api-hpa").inputs)["spec"]
    assert hpa["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    pdb = mockrun.plain(by_suffix(resources, "-api-pdb").inputs)["spec"]
    assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("stack", SHIPPED)
def test_only_the_migration_job_gets_the_owner_url(stack: str) -> None:
    resources = evaluated(stack)
    job = mockrun.plain(by_suffix(resources, "-api-migrate").inputs)["spec"]["template"]["spec"]["containers"][0]
    assert job["envFrom"] == [{"secretRef": {"name": "maestro-api-migrate"}}]
    assert {e["name"]: e["value"] for e in job["env"]}["MAESTRO_DATABASE_SERVICE_ROLE"] == "maestro_app"
    deployment = mockrun.plain(by_suffix(resources, "-api-deployment").inputs)["spec"]["template"]["spec"]
    mentioned = json.dumps(deployment)
    assert "maestro-api-migrate" not in mentioned and "MAESTRO_DATABASE_OWNER_URL" not in mentioned
    ingress = mockrun.plain(by_suffix(resources, "-api-ingress").inputs)["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in ingress] == ["/v1", "/mlflow"]


@pytest.mark.parametrize("stack", SHIPPED)
def test_migrations_run_before_the_rollout(stack: str) -> None:
    resources = evaluated(stack)
    for prefix in ("api", "mlflow"):
        job = by_suffix(resources, f"-{prefix}-migrate")
        deployment = by_suffix(resources, f"-{prefix}-deployment")
        assert job.type == "kubernetes:batch/v1:Job" and deployment.type == "kubernetes:apps/v1:Deployment"
        assert job.urn in deployment.dependencies, f"{deployment.urn} does not wait for {job.urn}"
        assert deployment.urn not in job.dependencies


RESTORE = {
    "sourceCluster": "maestro-pg",
    "sourceUid": "0c6e1a9e-5b8e-4c53-9d3b-3f0e8b7a2d11",
    "timestamp": "2026-11-27T23:00:00+00:00",
}


@functools.cache
def switched_prod() -> mockrun.RecordedResources:
    """prod-aws with a restore clone and the endpoint switched to it (both steps of `maestro restore --stack`)."""
    config, secret_keys = mockrun.load_stack_config(mockrun.stack_file_for("prod-aws"))
    postgres = {**json.loads(config["maestro:postgres"]), "endpoint": "restore"}
    config = {**config, "maestro:restore": json.dumps(RESTORE), "maestro:postgres": json.dumps(postgres)}
    return mockrun.evaluate_config("prod-aws", config, secret_keys=secret_keys)


def _named(resources: list[mockrun.RecordedResource], typ: str) -> dict[str, mockrun.RecordedResource]:
    return {mockrun.plain(r.inputs)["metadata"]["name"]: r for r in resources if r.type == typ}


def test_restore_adds_a_clone_next_to_the_untouched_live_cluster() -> None:
    clusters = _named(switched_prod(), "kubernetes:acid.zalan.do/v1:postgresql")
    assert set(clusters) == {"maestro-pg", "maestro-pg-restore"}
    (normal,) = evaluated("prod-aws").of_type("kubernetes:acid.zalan.do/v1:postgresql")
    assert clusters["maestro-pg"].urn == normal.urn and clusters["maestro-pg"].inputs == normal.inputs
    assert "clone" not in mockrun.plain(normal.inputs)["spec"]
    clone = mockrun.plain(clusters["maestro-pg-restore"].inputs)
    assert clone["spec"]["clone"] == {
        "cluster": "maestro-pg",
        "uid": RESTORE["sourceUid"],
        "timestamp": RESTORE["timestamp"],
    }
    env = {e["name"]: e["value"] for e in clone["spec"]["env"]}
    assert env["CLONE_USE_WALG_RESTORE"] == "true" and env["CLONE_WAL_S3_BUCKET"] == env["WAL_S3_BUCKET"]
    # The same members, volumes and labels as the live cluster: it is meant to become the live one.
    live = mockrun.plain(normal.inputs)
    assert {k: v for k, v in clone["spec"].items() if k not in ("clone", "env")} == {
        k: v for k, v in live["spec"].items() if k != "env"
    }
    assert clone["metadata"]["labels"] == live["metadata"]["labels"]
    # Its own credential Secrets (the operator syncs the cloned roles' passwords to them) and its own metrics Service.
    secrets = _named(switched_prod(), "kubernetes:core/v1:Secret")
    for role in ("maestro-owner", "maestro-app", "mlflow"):
        for cluster in ("maestro-pg", "maestro-pg-restore"):
            secret = secrets[f"{role}.{cluster}.credentials.postgresql.acid.zalan.do"]
            assert mockrun.plain(secret.inputs)["metadata"]["labels"]["cluster-name"] == cluster
    services = _named(switched_prod(), "kubernetes:core/v1:Service")
    assert services["maestro-pg-restore-metrics"].inputs["spec"]["selector"]["cluster-name"] == "maestro-pg-restore"
    assert switched_prod().outputs["postgresRestoreCluster"] == "maestro-pg-restore"


def test_endpoint_picks_the_cluster_of_every_database_url() -> None:
    for resources, cluster in ((evaluated("prod-aws"), "maestro-pg"), (switched_prod(), "maestro-pg-restore")):
        secrets = _named(resources, "kubernetes:core/v1:Secret")
        urls = [
            mockrun.unwrap_secret(secrets["maestro-api"].inputs["stringData"])["MAESTRO_DATABASE_URL"],
            mockrun.unwrap_secret(secrets["maestro-api-migrate"].inputs["stringData"])["MAESTRO_DATABASE_OWNER_URL"],
            mockrun.unwrap_secret(secrets["mlflow-db"].inputs["stringData"])["uri"],
        ]
        assert all(f"@{cluster}.maestro-data.svc.cluster.local:" in url for url in urls), urls
        # The passwords are the endpoint cluster's own: the URL Secrets depend on its generated passwords only.
        passwords = {
            r.urn for r in resources if r.type == "random:index/randomPassword:RandomPassword" and "-postgres-" in r.urn
        }
        holders = ("maestro-api", "maestro-api-migrate", "mlflow-db")
        used = passwords & {d for name in holders for d in secrets[name].dependencies}
        behind = {
            d
            for name, r in secrets.items()
            if name.endswith(f".{cluster}.credentials.postgresql.acid.zalan.do")
            for d in r.dependencies
        }
        assert used and used <= behind, (cluster, used)
        assert resources.outputs["postgresCluster"] == cluster
        deployments = _named(resources, "kubernetes:apps/v1:Deployment")
        for name in ("maestro-api", "mlflow"):
            template = mockrun.plain(deployments[name].inputs)["spec"]["template"]
            assert template["metadata"]["annotations"]["maestro.dev/database-cluster"] == cluster


def test_switched_stack_deletes_nothing_and_passes_the_policy_pack() -> None:
    """The clone carries the same labels, pod security and NetworkPolicy coverage as the live cluster: prod-aws with
    the clone and the switch passes every mandatory rule, as the shipped stacks do."""
    from maestro.offline import policycheck

    assert {r.urn for r in evaluated("prod-aws")} <= {r.urn for r in switched_prod()}
    config, _ = mockrun.load_stack_config(mockrun.stack_file_for("prod-aws"))
    found = policycheck.run_pack(
        policycheck.inprocess_analyzer(None), "prod-aws", list(switched_prod()), "prod", config
    )
    bad = policycheck.mandatory_violations(found)
    assert not bad, "\n".join(f"{f.rule} {f.resource}: {f.message.split(' Fix:')[0]}" for f in bad)
    assert not [f for f in found if f.status == "unknown"]


def test_endpoint_restore_without_a_restore_is_refused() -> None:
    config, _ = mockrun.load_stack_config(mockrun.stack_file_for("prod-aws"))
    postgres = {**json.loads(config["maestro:postgres"]), "endpoint": "restore"}
    with pytest.raises(ValueError, match=r"^maestro:postgres.endpoint: "):
        mockrun.evaluate_config("prod-aws", {**config, "maestro:postgres": json.dumps(postgres)})


def test_restore_needs_a_backup_bucket() -> None:
    config, _ = mockrun.load_stack_config(mockrun.stack_file_for("dev-kind"))
    restore = {
        "sourceCluster": "maestro-pg",
        "sourceUid": "0c6e1a9e-5b8e-4c53-9d3b-3f0e8b7a2d11",
        "timestamp": "2026-11-27T23:00:00+00:00",
    }
    with pytest.raises(ValueError, match=r"^maestro:restore: "):
        mockrun.evaluate_config("dev-kind", {**config, "maestro:restore": json.dumps(restore)})


@pytest.mark.parametrize("stack", SHIPPED)
def test_every_component_is_scraped(stack: str) -> None:
    monitors = {
        mockrun.plain(r.inputs)["metadata"]["name"]
        for r in evaluated(stack).of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    }
    # MLflow is not scraped: it answers the API alone (the API's own metrics cover its calls to MLflow).
    expected = {"maestro-api", "postgres"} | ({"redis"} if stack == "dev-kind" else set())
    assert monitors == expected


@pytest.mark.parametrize("stack", SHIPPED)
def test_workload_objects_carry_the_ownership_labels(stack: str) -> None:
    for r in evaluated(stack):
        if r.type in ("kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Namespace", "kubernetes:core/v1:Service"):
            labels = mockrun.plain(r.inputs)["metadata"].get("labels", {})
            assert {"owner", "environment", "cost-center"} <= set(labels), r.urn


@pytest.mark.parametrize("stack", SHIPPED)
def test_mlflow_serves_workspaces_and_proxies_artifacts(stack: str) -> None:
    # The API scopes each tenant to an MLflow workspace and hands clients mlflow-artifacts:/ URIs, so the server
    # must run with workspaces and its artifact proxy (the lab and tests/mlflow_server.py run it the same way).
    servers = [
        c
        for _, spec in pod_specs(evaluated(stack))
        for c in spec["containers"]
        if c.get("command") == ["mlflow", "server"]
    ]
    assert len(servers) == 1
    assert {"--enable-workspaces", "--serve-artifacts"} <= set(servers[0]["args"])


def test_redis_exporter_has_cheap_http_probes_on_its_metrics_port() -> None:
    from dataclasses import replace

    from maestro.offline import policycheck

    statefulset = by_suffix(evaluated("dev-kind").of_type("kubernetes:apps/v1:StatefulSet"), "-redis-statefulset")
    props = mockrun.plain(statefulset.inputs)
    exporter = next(c for c in props["spec"]["template"]["spec"]["containers"] if c["name"] == "exporter")
    named = {p["name"]: p["containerPort"] for p in exporter["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        # "/" is redis_exporter's static index page; /metrics would scrape Redis on every probe.
        assert exporter[probe]["httpGet"]["path"] == "/"
        assert named[exporter[probe]["httpGet"]["port"]] == PORTS.redis_exporter

    def probe_findings(inputs: dict[str, Any]) -> list[str]:
        found = policycheck.run_pack(
            policycheck.inprocess_analyzer(None), "dev-kind", [replace(statefulset, inputs=inputs)], "dev"
        )
        return [f.message.split(" Fix:")[0] for f in found if f.rule == "MAESTRO-K8S-008"]

    assert probe_findings(props) == []
    # The same StatefulSet without the exporter's probes is what the pack flagged before.
    del exporter["livenessProbe"], exporter["readinessProbe"]
    assert probe_findings(props) == ["container exporter: missing readinessProbe, livenessProbe."]
