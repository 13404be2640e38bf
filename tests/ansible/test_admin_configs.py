"""Every internal admin surface asks for a credential, as the roles render it for the example inventory: Prometheus,
Alertmanager and the exporters (web configs, lifecycle and admin APIs off), HAProxy's stats, Patroni's REST writes
and its etcd user, MLflow's token; and the consumers (Prometheus's scrapes, Grafana, the API) send theirs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tests.ansible.roles import OPERATORS, ROLES, example_inventory, render

SECRETS = {
    "monitoring_prometheus_password": "prom-" + "p" * 24,
    "monitoring_alertmanager_password": "am-" + "a" * 24,
    "monitoring_exporter_password": "exp-" + "e" * 24,
    "haproxy_stats_password": "stats-" + "h" * 24,
    "patroni_rest_password": "rest-" + "r" * 24,
    "etcd_patroni_password": "etcd-" + "t" * 24,
    "mlflow_token": "mlflow-" + "m" * 40,
    "postgres_superuser_password": "su-" + "s" * 24,
    "postgres_replication_password": "repl-" + "x" * 24,
    "postgres_rewind_password": "rw-" + "w" * 24,
    "redis_password": "redis-" + "d" * 24,
    "grafana_admin_password": "graf-" + "g" * 24,
    "mlflow_db_password": "mdb-" + "b" * 24,
    "maestro_api_db_password": "adb-" + "c" * 24,
    "maestro_api_db_owner_password": "odb-" + "o" * 24,
    "maestro_api_key_pepper": "pep-" + "k" * 40,
    "maestro_api_audit_key": "aud-" + "u" * 40,
    "maestro_api_metrics_token": "met-" + "n" * 40,
    "postgres_exporter_password": "pex-" + "q" * 24,
}
PLATFORM = {
    "maestro_cluster_name": "maestro-test",
    "maestro_environment": "prod",
    "maestro_s3_artifact_bucket": "artifacts",
    "maestro_s3_access_key": "AKIA" + "Z" * 16,
    "maestro_s3_secret_key": "s" * 40,
    "maestro_wheelhouse_mlflow": "/tmp/mlflow.tar",
    "maestro_wheelhouse_api": "/tmp/api.tar",
    "ansible_virtualization_type": "container",
}


MON, DB, APP = ("mon1",), ("db1",), ("app1",)
TEMPLATES: dict[str, str | tuple[str, tuple[str, ...]]] = {
    "prometheus.yml": ("monitoring/templates/prometheus.yml.j2", MON),
    "prometheus.default": ("monitoring/templates/prometheus.default.j2", MON),
    "alertmanager.default": ("monitoring/templates/alertmanager.default.j2", DB),
    "node-exporter.default": ("monitoring/templates/node-exporter.default.j2", DB),
    "postgres-exporter.default": ("monitoring/templates/postgres-exporter.default.j2", DB),
    "redis-exporter.default": ("monitoring/templates/redis-exporter.default.j2", DB),
    # On two hosts, and twice on one: a random salt would make the two on mon1 differ.
    "web.yml": ("monitoring/templates/web-config.yml.j2", MON + DB),
    "web-again.yml": ("monitoring/templates/web-config.yml.j2", MON),
    "datasource.yml": ("grafana/templates/datasources/maestro.yml.j2", MON),
    "patroni.yml": ("patroni/templates/config.yml.j2", DB),
    "haproxy.cfg": ("haproxy/templates/haproxy.cfg.j2", APP),
    "mlflow.service": ("mlflow/templates/mlflow.service.j2", APP),
    "mlflow.env": ("mlflow/templates/mlflow.env.j2", APP),
    "api.env": ("maestro_api/templates/maestro-api.env.j2", APP),
}
WEB = {"__monitoring_web_service": "prometheus", "__monitoring_web_password": SECRETS["monitoring_prometheus_password"]}

Files = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """Every admin-surface template of the roles, for a database, an application and the monitoring host, after
    the patroni role's own checks passed."""
    result = render(
        tmp_path_factory.mktemp("admin"),
        roles=("monitoring", "haproxy", "grafana", "patroni", "mlflow", "maestro_api"),
        templates=TEMPLATES,
        extra_vars={**SECRETS, **PLATFORM, **WEB},
        checks=("patroni/assert.yml",),
        hosts=("db1", "app1", "mon1"),
    )
    assert result.returncode == 0, result.output[-4000:]
    return result.files


def _args(default_file: str) -> list[str]:
    line = next(x for x in default_file.splitlines() if x.startswith("ARGS="))
    return shlex.split(line.removeprefix("ARGS=").strip('"'))


def test_prometheus_asks_for_a_credential_and_runs_no_lifecycle_or_admin_api(rendered: Files) -> None:
    args = _args(rendered["mon1"]["prometheus.default"])
    assert "--web.config.file=/etc/prometheus/web.yml" in args
    assert not [a for a in args if a.startswith(("--web.enable-lifecycle", "--web.enable-admin-api"))]


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("alertmanager.default", "--web.config.file=/etc/prometheus/alertmanager-web.yml"),
        ("node-exporter.default", "--web.config.file=/etc/prometheus/node-exporter-web.yml"),
        ("postgres-exporter.default", "--web.config.file=/etc/prometheus/postgres-exporter-web.yml"),
    ],
)
def test_alertmanager_and_the_exporters_ask_for_a_credential(rendered: Files, name: str, flag: str) -> None:
    assert flag in _args(rendered["db1"][name])


def test_redis_exporter_requires_a_client_certificate(rendered: Files) -> None:
    args = _args(rendered["db1"]["redis-exporter.default"])
    assert args[args.index("-tls-server-ca-cert-file") + 1] == "/etc/maestro/tls/ca.crt"
    assert "-tls-server-cert-file" in args and "-tls-server-key-file" in args


def test_the_web_config_holds_a_bcrypt_hash_of_the_password_only(rendered: Files) -> None:
    users = yaml.safe_load(rendered["mon1"]["web.yml"])["basic_auth_users"]
    assert list(users) == ["maestro"]
    hashed = users["maestro"]
    assert hashed.startswith("$2b$10$")
    assert bcrypt.checkpw(SECRETS["monitoring_prometheus_password"].encode(), hashed.encode())
    assert not bcrypt.checkpw(b"a-wrong-password-of-the-same-size", hashed.encode())
    # Salted per host and purpose, never randomly: a second run writes the same file (no change reported).
    assert rendered["db1"]["web.yml"] != rendered["mon1"]["web.yml"]
    assert rendered["mon1"]["web-again.yml"] == rendered["mon1"]["web.yml"]


def test_prometheus_sends_a_credential_to_every_target_and_keeps_none_in_its_config(rendered: Files) -> None:
    text = rendered["mon1"]["prometheus.yml"]
    config = yaml.safe_load(text)
    assert config["alerting"]["alertmanagers"][0]["basic_auth"]["password_file"].endswith("/alertmanager")
    without = set()
    for job in config["scrape_configs"]:
        auth = job.get("basic_auth", {})
        bearer = job.get("authorization", {})
        cert = job.get("tls_config", {}).get("cert_file")
        if not (auth.get("password_file") or bearer.get("credentials_file") or cert):
            without.add(job["job_name"])
        assert "password" not in auth and "credentials" not in bearer
    # Patroni's metrics are on its read-only REST endpoints (its writes ask for a credential): docs/security.md.
    assert without == {"patroni"}
    api = next(job for job in config["scrape_configs"] if job["job_name"] == "maestro-api")
    assert api["authorization"] == {"type": "Bearer", "credentials_file": "/etc/prometheus/credentials/maestro_api"}
    assert not [s for s in SECRETS.values() if s in text]


def test_haproxy_stats_and_metrics_ask_for_a_credential(rendered: Files) -> None:
    cfg = rendered["app1"]["haproxy.cfg"]
    stats = cfg[cfg.index("frontend stats") :].split("\n\n")[0]
    lines = [line.strip() for line in stats.splitlines()]
    auth = lines.index("http-request auth realm maestro-haproxy unless { http_auth(maestro_stats) }")
    assert auth < lines.index("http-request use-service prometheus-exporter if { path /metrics }")
    assert f"user maestro insecure-password {SECRETS['haproxy_stats_password']}" in cfg


def test_grafana_queries_prometheus_with_its_credential(rendered: Files) -> None:
    source = yaml.safe_load(rendered["mon1"]["datasource.yml"])["datasources"][0]
    assert (source["basicAuth"], source["basicAuthUser"]) == (True, "maestro")
    assert source["secureJsonData"]["basicAuthPassword"] == SECRETS["monitoring_prometheus_password"]


@pytest.fixture(scope="module")
def patroni(rendered: Files) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(rendered["db1"]["patroni.yml"])
    return config


def test_patroni_rest_writes_need_a_credential_and_an_allowed_address(patroni: dict[str, Any]) -> None:
    rest = patroni["restapi"]
    assert rest["authentication"] == {"username": "patroni", "password": SECRETS["patroni_rest_password"]}
    assert rest["allowlist"] == OPERATORS and rest["allowlist_include_members"] is True


def test_patroni_uses_etcd_as_its_own_user_with_its_own_certificate(patroni: dict[str, Any]) -> None:
    etcd = patroni["etcd3"]
    assert (etcd["username"], etcd["password"]) == ("patroni", SECRETS["etcd_patroni_password"])
    assert (etcd["cert"], etcd["key"]) == ("/etc/maestro/tls/etcd-client.crt", "/etc/maestro/tls/etcd-client.key")
    # The etcd role grants exactly this user read-write on exactly Patroni's namespace.
    etcd_defaults = yaml.safe_load((ROLES / "etcd" / "defaults" / "main.yml").read_text())
    assert etcd_defaults["etcd_patroni_user"] == "patroni"
    assert etcd_defaults["etcd_patroni_prefix"] == patroni["namespace"]


def test_pg_hba_admits_the_members_and_haproxy_hosts_by_address_only(patroni: dict[str, Any]) -> None:
    hosts = example_inventory()["all"]["hosts"]
    members = {hosts[h]["ansible_host"] for h in ("db1", "db2", "db3")}
    haproxy = {hosts[h]["ansible_host"] for h in ("app1", "app2")}
    rules = [r.split() for r in patroni["postgresql"]["pg_hba"]]
    # Replication from the members, and over loopback for Patroni's own check of a replica's timeline.
    assert {r[3].removesuffix("/32") for r in rules if r[1] == "replication"} == members | {"127.0.0.1"}
    assert {r[2] for r in rules if r[1] == "replication"} == {"replicator"}
    remote = {r[3].removesuffix("/32") for r in rules if r[:2] == ["hostssl", "all"] and r[3] != "127.0.0.1/32"}
    assert remote == members | haproxy
    assert all(r[0] in ("local", "hostssl") and r[-1] in ("peer", "scram-sha-256") for r in rules)


def test_patroni_refuses_to_run_without_its_credentials(tmp_path: Path) -> None:
    # The rendered fixture passed patroni/assert.yml with the credentials set; a short one fails it, naming them.
    extra = {**SECRETS, **PLATFORM, "patroni_rest_password": "short"}
    result = render(
        tmp_path, roles=("patroni",), templates={}, extra_vars=extra, checks=("patroni/assert.yml",), hosts=("db1",)
    )
    assert result.returncode != 0
    assert "patroni_rest_password, patroni_etcd_password" in result.output


def test_mlflow_runs_the_token_app_and_the_api_sends_the_token(rendered: Files) -> None:
    out = rendered["app1"]
    assert re.search(r"mlflow server --app-name maestro-auth ", out["mlflow.service"])
    assert f"MAESTRO_MLFLOW_TOKEN={SECRETS['mlflow_token']}\n" in out["mlflow.env"]
    assert f"MAESTRO_MLFLOW_TOKEN='{SECRETS['mlflow_token']}'\n" in out["api.env"]
    assert SECRETS["mlflow_token"] not in out["mlflow.service"]
