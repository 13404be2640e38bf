"""testinfra per host role: services active and enabled, ports bound only where intended, config files with their
modes, TLS in place. Runs against the lab (`make test-lab`)."""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any

import pytest

from maestro.lab import releases
from maestro.lab.topology import DOMAIN, HOSTS, host_by_name

pytestmark = pytest.mark.lab

DB = ("db1", "db2", "db3")
ALL = tuple(h.name for h in HOSTS)
# The release the lab runs: Redis or Valkey, and PostgreSQL's major, are the release's.
RELEASE = releases.current()
REDIS = RELEASE.redis
CLI = REDIS["cli"]

SERVICES = {
    "db": [
        "etcd",
        "patroni",
        REDIS["service"],
        REDIS["sentinel_service"],
        "prometheus-postgres-exporter",
        "prometheus-redis-exporter",
    ],
    "app1": ["haproxy", "mlflow"],
    "mon1": ["prometheus", "prometheus-alertmanager"],
    "edge1": ["nginx"],
}


def _services(name: str) -> list[str]:
    base = ["prometheus-node-exporter", "nftables", "ssh"]
    return base + SERVICES["db" if name in DB else name] if (name in DB or name in SERVICES) else base


@pytest.mark.parametrize("name", ALL)
def test_services_are_running_and_enabled(hosts: dict[str, Any], name: str) -> None:
    host = hosts[name]
    for svc in _services(name):
        service = host.service(svc)
        assert service.is_running, f"{svc} is not running on {name}"
        assert service.is_enabled, f"{svc} is not enabled on {name}"


@pytest.mark.parametrize("name", DB)
def test_debian_default_postgresql_is_off(hosts: dict[str, Any], name: str) -> None:
    # Patroni owns PostgreSQL: the packaged cluster must neither exist nor start at boot.
    host = hosts[name]
    assert not host.service("postgresql").is_enabled
    assert not host.file(f"/etc/postgresql/{RELEASE.postgres_major}/main").exists


@pytest.mark.parametrize(
    ("name", "port_name", "expected"),
    [
        *[(db, "postgres", "ip+lo") for db in DB],
        *[(db, "etcd_client", "ip+lo") for db in DB],
        *[(db, "etcd_peer", "ip") for db in DB],
        *[(db, "patroni_rest", "ip") for db in DB],
        *[(db, "redis", "ip+lo") for db in DB],
        *[(db, "redis_sentinel", "ip+lo") for db in DB],
        *[(db, "postgres_exporter", "ip") for db in DB],
        *[(db, "redis_exporter", "ip") for db in DB],
        *[(h, "node_exporter", "ip") for h in ALL],
        ("app1", "haproxy_primary", "ip"),
        ("app1", "haproxy_replicas", "ip"),
        ("app1", "haproxy_stats", "ip"),
        ("app1", "haproxy_redis", "ip"),
        ("app1", "mlflow", "ip"),
        ("mon1", "prometheus", "ip"),
        ("mon1", "alertmanager", "ip"),
        ("edge1", "https", "any"),
        ("edge1", "http", "any"),
    ],
)
def test_ports_are_bound_only_where_intended(
    hosts: dict[str, Any], ports: dict[str, int], name: str, port_name: str, expected: str
) -> None:
    host = hosts[name]
    ip = host_by_name(name).ip
    out = host.check_output(f"ss -Htln 'sport = :{ports[port_name]}'")
    bound = {line.split()[3].rsplit(":", 1)[0].strip("[]") for line in out.splitlines() if line.strip()}
    want = {"ip": {ip}, "ip+lo": {ip, "127.0.0.1"}, "any": {"0.0.0.0"}}[expected]
    if expected == "any":
        assert "0.0.0.0" in bound or "*" in bound, f"{port_name} on {name} bound to {bound}"
    else:
        assert bound == want, f"{port_name} ({ports[port_name]}) on {name} bound to {bound}, want {want}"


def test_alertmanager_gossip_port_is_closed(hosts: dict[str, Any]) -> None:
    # The HA cluster listener (9094) is turned off: one Alertmanager, no unauthenticated gossip port.
    assert hosts["mon1"].check_output("ss -Htln 'sport = :9094'").strip() == ""


@pytest.mark.parametrize(
    ("name", "path", "owner", "group", "mode"),
    [
        *[(h, "/etc/maestro/tls/host.key", "root", "maestro-tls", 0o640) for h in ALL],
        *[(h, "/etc/maestro/tls/ca.crt", "root", "maestro-tls", 0o644) for h in ALL],
        *[(db, "/etc/patroni/config.yml", "postgres", "postgres", 0o600) for db in DB],
        *[(db, "/etc/pgbackrest.conf", "postgres", "postgres", 0o600) for db in DB],
        *[(db, "/etc/default/etcd", "root", "etcd", 0o640) for db in DB],
        *[(db, f"{REDIS['config_dir']}/maestro.conf", REDIS["user"], REDIS["user"], 0o640) for db in DB],
        *[(db, "/etc/default/prometheus-postgres-exporter", "root", "prometheus", 0o640) for db in DB],
        ("app1", "/etc/haproxy/haproxy.cfg", "root", "haproxy", 0o640),
        ("app1", "/etc/mlflow/mlflow.env", "root", "mlflow", 0o640),
        ("mon1", "/etc/prometheus/prometheus.yml", "root", "prometheus", 0o644),
    ],
)
def test_config_files_have_their_modes(
    hosts: dict[str, Any], name: str, path: str, owner: str, group: str, mode: int
) -> None:
    f = hosts[name].file(path)
    assert f.exists, f"{path} missing on {name}"
    assert (f.user, f.group, f.mode) == (owner, group, mode)


@pytest.mark.parametrize("name", ALL)
def test_firewall_drops_unlisted_ports(hosts: dict[str, Any], name: str) -> None:
    host = hosts[name]
    ruleset = host.check_output("nft list table inet maestro_host")
    assert "policy drop" in ruleset
    # A listener on a port the firewall does not open: reachable on the host itself, not from the platform network.
    port = 47999
    host.run(f"systemd-run --unit=maestro-fwprobe --collect python3 -m http.server {port} --bind 0.0.0.0")
    try:
        probe = f"curl -s -o /dev/null http://127.0.0.1:{port}/"
        assert host.run(f"for i in $(seq 50); do {probe} && exit 0; sleep 0.1; done; exit 1").rc == 0
        with pytest.raises(OSError):
            socket.create_connection((host_by_name(name).ip, port), timeout=2).close()
    finally:
        host.run("systemctl stop maestro-fwprobe")


def _tls_peer(ip: str, port: int, ca: str, server_hostname: str | None = None) -> dict[str, Any]:
    ctx = ssl.create_default_context(cafile=ca)
    with (
        socket.create_connection((ip, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname or ip) as tls,
    ):
        cert: dict[str, Any] = tls.getpeercert() or {}
        return cert


# etcd's peer port answers the members only (config/network.yaml): test_admin_surfaces.py checks from one of them
# that it demands a client certificate.
@pytest.mark.parametrize(("name", "port_name"), [(db, "patroni_rest") for db in DB])
def test_tls_verifies_against_the_deployment_ca(ca_file: str, ports: dict[str, int], name: str, port_name: str) -> None:
    ip = host_by_name(name).ip
    cert = _tls_peer(ip, ports[port_name], ca_file)
    assert any(v == f"{name}.{DOMAIN}" for k, v in cert.get("subjectAltName", ()) if k == "DNS")


def test_tls_fails_without_the_deployment_ca(ports: dict[str, int], lab_endpoints: dict[str, Any]) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        ctx = ssl.create_default_context()
        with socket.create_connection((host_by_name("db1").ip, ports["patroni_rest"]), timeout=5) as raw:
            ctx.wrap_socket(raw, server_hostname="db1.maestro.lab").close()


def test_postgres_uses_tls_checksums_scram_and_sync_mode(
    ports: dict[str, int], secrets: dict[str, str], ca_file: str
) -> None:
    import psycopg2

    conn = psycopg2.connect(
        host=host_by_name("app1").ip,
        port=ports["haproxy_primary"],
        dbname="postgres",
        user="postgres",
        password=secrets["postgres_superuser_password"],
        sslmode="verify-ca",
        sslrootcert=ca_file,
        connect_timeout=5,
    )
    with conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)
        cur.execute("SHOW data_checksums")
        assert cur.fetchone() == ("on",)
        cur.execute("SHOW password_encryption")
        assert cur.fetchone() == ("scram-sha-256",)
        cur.execute("SHOW archive_timeout")
        timeout = cur.fetchone()[0]
        assert (
            timeout.endswith(("s", "min"))
            and (int(timeout.rstrip("smin")) * (60 if timeout.endswith("min") else 1)) <= 60
        )
        cur.execute("SHOW synchronous_standby_names")
        assert cur.fetchone()[0] not in ("", None)
    conn.close()


def test_postgres_refuses_connections_without_tls(ports: dict[str, int], secrets: dict[str, str]) -> None:
    import psycopg2

    # Through HAProxy, the only way in from the operators' network: PostgreSQL sees HAProxy's host, which pg_hba
    # admits over TLS only.
    with pytest.raises(psycopg2.OperationalError, match=r"no encryption|SSL off"):
        psycopg2.connect(
            host=host_by_name("app1").ip,
            port=ports["haproxy_primary"],
            dbname="postgres",
            user="postgres",
            password=secrets["postgres_superuser_password"],
            sslmode="disable",
            connect_timeout=5,
        )


def test_redis_requires_auth_and_sentinel_knows_the_master(
    hosts: dict[str, Any], ports: dict[str, int], secrets: dict[str, str]
) -> None:
    db1 = hosts["db1"]
    denied = db1.run(f"{CLI} -h 127.0.0.1 -p {ports['redis']} ping")
    assert "NOAUTH" in denied.stdout + denied.stderr
    ok = db1.run(f"REDISCLI_AUTH='{secrets['redis_password']}' {CLI} -h 127.0.0.1 -p {ports['redis']} ping")
    assert ok.stdout.strip() == "PONG"
    master = db1.check_output(
        f"REDISCLI_AUTH='{secrets['redis_password']}' {CLI} -p {ports['redis_sentinel']} "
        "sentinel get-master-addr-by-name maestro-lab"
    )
    assert master.split()[0] in {host_by_name(d).ip for d in DB}
    # The API reaches Redis through HAProxy on app1, which routes to the member that reports role:master: the
    # same member Sentinel names.
    app1 = hosts["app1"]
    via = app1.check_output(
        f"REDISCLI_AUTH='{secrets['redis_password']}' {CLI} -h {host_by_name('app1').ip} "
        f"-p {ports['haproxy_redis']} info replication"
    )
    assert "role:master" in via
    # Only the part after the credentials is read, so a failure prints no password.
    target = app1.check_output("sed -n 's/^MAESTRO_REDIS_URL=.*@//p' /etc/maestro-api/maestro-api.env")
    assert target.startswith(f"{host_by_name('app1').ip}:{ports['haproxy_redis']}/")


@pytest.mark.parametrize("name", DB)
def test_backup_timers_are_scheduled(hosts: dict[str, Any], name: str) -> None:
    host = hosts[name]
    for timer in ("full", "diff", "incr"):
        t = host.service(f"maestro-pgbackrest-{timer}.timer")
        assert t.is_enabled and t.is_running


def test_wal_archiving_and_a_full_backup_reach_s3(hosts: dict[str, Any]) -> None:
    from maestro.lab.failover import patroni_cluster

    leader = next(m["name"] for m in patroni_cluster() if m["role"] == "leader")
    info = json.loads(
        hosts[leader].check_output("su postgres -s /bin/sh -c 'pgbackrest --stanza=maestro-lab --output=json info'")
    )
    assert info[0]["status"]["code"] == 0, info[0]["status"]
    assert any(b["type"] == "full" for b in info[0]["backup"])
    assert info[0]["archive"] and info[0]["archive"][0]["max"]
    # The metrics file is on whichever member was primary when the backup ran (leadership moves on failover).
    path = "/var/lib/prometheus/node-exporter/maestro_backup_full.prom"
    metrics = "".join(hosts[db].file(path).content_string for db in DB if hosts[db].file(path).exists)
    assert 'maestro_backup_last_run_success{cluster="maestro-lab",type="full"} 1' in metrics
