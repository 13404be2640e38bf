"""What `make lab` hands over once the platform runs: the first tenant's admin key and the endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maestro.lab.nspawn import ssh
from maestro.lab.pki import CA_FILE, SECRETS_FILE, SSH_KEY
from maestro.lab.system import LabError, console, write_private
from maestro.lab.topology import DOMAIN, GATEWAY, HOSTS, LAB_DIR, S3_PORT, host_by_name, platform_ports

ADMIN_KEY_FILE = LAB_DIR / "admin-key"
ENDPOINTS_FILE = LAB_DIR / "endpoints.json"


def bootstrap_tenant() -> Path | None:
    """Create the first tenant once and keep its admin key in .lab/admin-key (0600)."""
    key_file = ADMIN_KEY_FILE
    if key_file.exists() and key_file.read_text().strip():
        console.print("    first tenant already bootstrapped")
        return key_file
    app1 = host_by_name("app1")
    probe = ssh(app1, "test -x /opt/maestro-api/venv/bin/maestro-api", check=False)
    if probe.returncode != 0:
        console.print("    [yellow]the Maestro API is not deployed: no tenant bootstrapped[/yellow]")
        return None
    out = ssh(app1, "/usr/local/bin/maestro-api-admin bootstrap --tenant lab --tier standard").stdout
    token = out.strip().splitlines()[-1].strip() if out.strip() else ""
    if not token:
        raise LabError("maestro-api bootstrap printed no key")
    write_private(key_file, (token + "\n").encode())
    return key_file


def endpoints(admin_key: Path | None) -> dict[str, Any]:
    """Where each service of the lab answers, and the files a client needs (CA, keys, secrets)."""
    ports = platform_ports()
    edge, app1, mon, db1 = (host_by_name(n) for n in ("edge1", "app1", "mon1", "db1"))
    data: dict[str, Any] = {
        "api": f"https://{edge.ip}:{ports['https']}",
        "api_hostname": f"edge1.{DOMAIN}",
        "ca_file": str(CA_FILE),
        "admin_key_file": str(admin_key) if admin_key else None,
        "mlflow_internal": f"http://{app1.ip}:{ports['mlflow']}",
        "postgres_rw": f"{app1.ip}:{ports['haproxy_primary']}",
        "postgres_ro": f"{app1.ip}:{ports['haproxy_replicas']}",
        "haproxy_stats": f"http://{app1.ip}:{ports['haproxy_stats']}/stats",
        "prometheus": f"http://{mon.ip}:{ports['prometheus']}",
        "alertmanager": f"http://{mon.ip}:{ports['alertmanager']}",
        "patroni": f"https://{db1.ip}:{ports['patroni_rest']}",
        "s3": f"https://{GATEWAY}:{S3_PORT}",
        "ssh_key": str(SSH_KEY),
        "secrets_file": str(SECRETS_FILE),
        "hosts": {h.name: {"ip": h.ip, "groups": list(h.groups)} for h in HOSTS},
    }
    return data
