"""Reachable is not enough: from a peer the network matrix allows, every internal surface refuses a request without
its credential and answers the right one. MLflow (the API's token), Prometheus, Alertmanager, the exporters,
HAProxy's stats, Patroni's REST writes, etcd, Redis and Sentinel, PostgreSQL; and the edge publishes neither
/metrics nor /readyz and refuses an unauthenticated upload without storing it."""

from __future__ import annotations

import base64
import contextlib
import json
import shlex
import socket
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from maestro.lab import releases
from maestro.lab.topology import host_by_name

pytestmark = pytest.mark.lab

TLS = "/etc/maestro/tls"


def ip(name: str) -> str:
    return host_by_name(name).ip


def curl_status(host: Any, url: str, *options: str) -> int:
    """The HTTP status a curl on `host` gets (0: no HTTP answer)."""
    args = " ".join(shlex.quote(o) for o in options)
    out = host.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 10 {args} {shlex.quote(url)}").stdout
    return int(out.strip() or 0)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def outer(url: str, *, method: str = "GET", auth: str | None = None, body: object = None, ctx: Any = None) -> int:
    """The HTTP status of a request from the outer machine (the lab's operator network)."""
    headers = {"Content-Type": "application/json", **({"Authorization": auth} if auth else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=ctx) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


# --- MLflow: the API's token, from the API's host ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/health", "/api/3.0/mlflow/workspaces", "/api/2.0/mlflow/experiments/search?max_results=1"]
)
def test_mlflow_refuses_its_allowed_peer_without_the_token(
    hosts: dict[str, Any], ports: dict[str, int], secrets: dict[str, str], path: str
) -> None:
    url = f"http://{ip('app1')}:{ports['mlflow']}{path}"
    app1 = hosts["app1"]
    assert curl_status(app1, url) == 401
    assert curl_status(app1, url, "-H", "Authorization: Bearer not-the-token") == 401
    assert curl_status(app1, url, "-H", "X-MLFLOW-WORKSPACE: default") == 401
    assert curl_status(app1, url, "-H", f"Authorization: Bearer {secrets['mlflow_token']}") == 200


# --- Prometheus and Alertmanager: operators, with basic auth -------------------------------------------------------


def test_prometheus_asks_operators_for_the_credential_and_has_no_lifecycle_api(
    lab_endpoints: dict[str, Any], secrets: dict[str, str]
) -> None:
    url, good = lab_endpoints["prometheus"], basic("maestro", secrets["prometheus_password"])
    assert outer(f"{url}/api/v1/query?query=up") == 401
    assert outer(f"{url}/api/v1/query?query=up", auth=basic("maestro", "wrong")) == 401
    assert outer(f"{url}/api/v1/query?query=up", auth=good) == 200
    assert outer(f"{url}/-/reload", method="POST", auth=good) == 403
    assert outer(f"{url}/-/quit", method="POST", auth=good) == 403


def test_alertmanager_takes_no_silence_without_the_credential(
    lab_endpoints: dict[str, Any], secrets: dict[str, str]
) -> None:
    url = f"{lab_endpoints['alertmanager']}/api/v2/silences"
    now = time.time()
    silence = {
        "matchers": [{"name": "alertname", "value": "LabAdminSurfaceProbe", "isRegex": False}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60)),
        "createdBy": "test_admin_surfaces",
        "comment": "an unauthenticated silence must be refused",
    }
    assert outer(url, method="POST", body=silence) == 401
    assert outer(url) == 401
    good = basic("maestro", secrets["alertmanager_password"])
    headers = {"Authorization": good, "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=json.dumps(silence).encode(), method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        silence_id = json.load(response)["silenceID"]
    assert outer(f"{lab_endpoints['alertmanager']}/api/v2/silence/{silence_id}", method="DELETE", auth=good) == 200


# --- Exporters: Prometheus's credential, from the monitoring host ---------------------------------------------------


@pytest.mark.parametrize(("target", "port_name"), [("db1", "node_exporter"), ("db1", "postgres_exporter")])
def test_the_exporters_ask_the_monitoring_host_for_the_credential(
    hosts: dict[str, Any], ports: dict[str, int], secrets: dict[str, str], target: str, port_name: str
) -> None:
    url = f"http://{ip(target)}:{ports[port_name]}/metrics"
    mon1 = hosts["mon1"]
    assert curl_status(mon1, url) == 401
    assert curl_status(mon1, url, "-u", "maestro:wrong") == 401
    assert curl_status(mon1, url, "-u", f"maestro:{secrets['exporter_password']}") == 200


def test_redis_exporter_asks_for_a_client_certificate(hosts: dict[str, Any], ports: dict[str, int]) -> None:
    url = f"https://{ip('db1')}:{ports['redis_exporter']}/metrics"
    mon1 = hosts["mon1"]
    assert curl_status(mon1, url.replace("https", "http")) in (0, 400)
    assert curl_status(mon1, url, "--cacert", f"{TLS}/ca.crt") == 0  # no client certificate: no TLS session
    assert (
        curl_status(mon1, url, "--cacert", f"{TLS}/ca.crt", "--cert", f"{TLS}/host.crt", "--key", f"{TLS}/host.key")
        == 200
    )


# --- HAProxy and Patroni --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/stats;csv", "/metrics"])
def test_haproxy_stats_and_metrics_ask_for_the_credential(
    lab_endpoints: dict[str, Any], ports: dict[str, int], secrets: dict[str, str], path: str
) -> None:
    url = f"http://{ip('app1')}:{ports['haproxy_stats']}{path}"
    assert outer(url) == 401
    assert outer(url, auth=basic("maestro", "wrong")) == 401
    assert outer(url, auth=basic("maestro", secrets["haproxy_stats_password"])) == 200


def test_patroni_rest_writes_need_the_credential_and_an_allowed_address(
    hosts: dict[str, Any], ports: dict[str, int], secrets: dict[str, str], ca_file: str
) -> None:
    url = f"https://{ip('db1')}:{ports['patroni_rest']}"
    ctx = ssl.create_default_context(cafile=ca_file)
    good = basic("patroni", secrets["patroni_rest_password"])
    # Operators (allowlisted): no credential, 401; the credential, the (harmless) reload is accepted.
    assert outer(f"{url}/reload", method="POST", ctx=ctx) == 401
    assert outer(f"{url}/reload", method="POST", auth=basic("patroni", "wrong"), ctx=ctx) == 401
    assert outer(f"{url}/reload", method="POST", auth=good, ctx=ctx) == 202
    # HAProxy's host reaches the read-only endpoints its health checks need, and no write even with the credential.
    app1 = hosts["app1"]
    assert curl_status(app1, f"{url}/cluster", "--cacert", f"{TLS}/ca.crt") == 200
    auth = ["--cacert", f"{TLS}/ca.crt", "-X", "POST", "-u", f"patroni:{secrets['patroni_rest_password']}"]
    assert curl_status(app1, f"{url}/reload", *auth) == 403


# --- etcd: Patroni's user only ------------------------------------------------------------------------------------


def etcdctl(host: Any, *args: str, cert: str = "host", user: str | None = None) -> Any:
    env = f"ETCDCTL_USER={shlex.quote(user)} " if user else ""
    return host.run(
        f"{env}etcdctl --endpoints=https://{ip('db1')}:2379 --cacert={TLS}/ca.crt --cert={TLS}/{cert}.crt "
        f"--key={TLS}/{cert}.key --dial-timeout=3s --command-timeout=5s " + " ".join(shlex.quote(a) for a in args)
    )


def test_a_host_certificate_opens_nothing_in_etcd(hosts: dict[str, Any]) -> None:
    # The monitoring host may reach etcd (it scrapes /metrics) and has a certificate from the deployment CA.
    denied = etcdctl(hosts["mon1"], "get", "/service/", "--prefix", "--keys-only")
    assert denied.rc != 0 and "permission denied" in denied.stderr
    denied = etcdctl(hosts["mon1"], "put", "/service/maestro-lab/leader", "mon1")
    assert denied.rc != 0 and "permission denied" in denied.stderr
    scraped = hosts["mon1"].run(
        f"curl -s -o /dev/null -w '%{{http_code}}' --cacert {TLS}/ca.crt --cert {TLS}/host.crt --key {TLS}/host.key "
        f"https://{ip('db1')}:2379/metrics"
    )
    assert scraped.stdout == "200"


def test_patroni_user_reads_its_namespace_only_and_root_administers(
    hosts: dict[str, Any], secrets: dict[str, str]
) -> None:
    db1, patroni = hosts["db1"], f"patroni:{secrets['etcd_patroni_password']}"
    ok = etcdctl(db1, "get", "/service/", "--prefix", "--keys-only", cert="etcd-client", user=patroni)
    assert ok.rc == 0 and "/service/maestro-lab/leader" in ok.stdout
    outside = etcdctl(db1, "put", "/elsewhere", "x", cert="etcd-client", user=patroni)
    assert outside.rc != 0 and "permission denied" in outside.stderr
    wrong = etcdctl(db1, "get", "/service/", "--prefix", cert="etcd-client", user="patroni:wrong-password")
    assert wrong.rc != 0 and "authentication failed" in wrong.stderr
    users = etcdctl(db1, "user", "list", user=f"root:{secrets['etcd_root_password']}")
    assert users.rc == 0 and set(users.stdout.split()) == {"root", "patroni"}


def test_etcd_peers_demand_a_client_certificate(hosts: dict[str, Any], ports: dict[str, int]) -> None:
    # From another member (the only hosts that reach the peer port), without a certificate: no TLS session.
    probe = hosts["db2"].run(
        f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 --cacert {TLS}/ca.crt "
        f"https://{ip('db1')}:{ports['etcd_peer']}/version"
    )
    assert probe.stdout in ("000", "")


# --- Redis, Sentinel and PostgreSQL ---------------------------------------------------------------------------------


def test_redis_and_sentinel_refuse_an_allowed_peer_without_auth(
    hosts: dict[str, Any], ports: dict[str, int], secrets: dict[str, str]
) -> None:
    cases = [("app1", ports["redis"]), ("db2", ports["redis"]), ("db2", ports["redis_sentinel"])]
    for source, port in cases:
        cli = f"{releases.current().redis['cli']} --no-auth-warning -h {ip('db1')} -p {port}"
        denied = hosts[source].run(f"{cli} ping")
        assert "NOAUTH" in denied.stdout + denied.stderr, (source, port)
        ok = hosts[source].run(f"REDISCLI_AUTH={shlex.quote(secrets['redis_password'])} {cli} ping")
        assert ok.stdout.strip() == "PONG", (source, port)


def test_postgres_admits_haproxys_host_with_a_password_only(hosts: dict[str, Any], ports: dict[str, int]) -> None:
    dsn = f"host={ip('db1')} port={ports['postgres']} dbname=postgres user=postgres sslmode=require connect_timeout=5"
    refused = hosts["app1"].run(f"PGPASSWORD=wrong psql {shlex.quote(dsn)} -c 'select 1'")
    assert refused.rc != 0 and "password authentication failed" in refused.stderr


# --- The edge -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/healthz", "/docs", "/openapi.json"])
def test_the_edge_publishes_no_internal_path(lab_endpoints: dict[str, Any], ca_file: str, path: str) -> None:
    ctx = ssl.create_default_context(cafile=ca_file)
    request = urllib.request.Request(f"{lab_endpoints['api']}{path}", headers={"Host": lab_endpoints["api_hostname"]})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10, context=ctx)
    assert refused.value.code == 404
    assert b"maestro_" not in refused.value.read()


def test_an_unauthenticated_upload_is_refused_before_the_edge_stores_it(
    lab_endpoints: dict[str, Any], ca_file: str, hosts: dict[str, Any]
) -> None:
    edge = host_by_name("edge1")
    ctx = ssl.create_default_context(cafile=ca_file)
    raw = socket.create_connection((edge.ip, 443), timeout=10)
    conn = ctx.wrap_socket(raw, server_hostname=edge.ip)
    conn.sendall(
        (
            "PUT /mlflow/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.bin HTTP/1.1\r\n"
            f"Host: {lab_endpoints['api_hostname']}\r\nUser-Agent: maestro-lab-tests\r\nAccept: */*\r\n"
            "Authorization: Bearer not-a-key\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {1 << 31}\r\n\r\n"
        ).encode()
    )
    conn.settimeout(0.05)
    sent, answer, stored, next_look = 0, b"", 0, 0
    deadline = time.monotonic() + 30
    while not answer and time.monotonic() < deadline and sent < 256 << 20:
        with contextlib.suppress(TimeoutError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            conn.sendall(b"\0" * 65536)
            sent += 65536
        with contextlib.suppress(TimeoutError, ssl.SSLWantReadError):
            answer = conn.recv(4096)
        if sent >= next_look:  # look at the edge's request-body directory every 4 MiB
            stored = max(stored, _stored_on_edge(hosts["edge1"]))
            next_look = sent + (4 << 20)
    stored = max(stored, _stored_on_edge(hosts["edge1"]))
    conn.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert sent < 32 << 20, f"{sent} bytes of a 2 GiB upload went out before the API's 401"
    # Only the directory's own entry (4 KiB): no request body was written to disk.
    assert stored <= 4096


def _stored_on_edge(edge: Any) -> int:
    """Bytes in nginx's request-body directory on the edge (4096: the empty directory itself)."""
    return int(edge.run("du -sb /var/lib/nginx/body 2>/dev/null | cut -f1").stdout.strip() or 0)
