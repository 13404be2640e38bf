"""What `make lab` hands over once the platform runs: the first tenant's admin key and the endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maestro.lab import idp
from maestro.lab.nspawn import ssh
from maestro.lab.pki import CA_FILE, SECRETS_FILE, SSH_KEY
from maestro.lab.system import LabError, console, write_private
from maestro.lab.topology import DOMAIN, GATEWAY, HOSTS, LAB_DIR, S3_PORT, host_by_name, platform_ports

ADMIN_KEY_FILE = LAB_DIR / "admin-key"
TENANTS = (idp.FIRST_TENANT, idp.SECOND_TENANT)
"""The tenants `make lab` bootstraps."""
ENDPOINTS_FILE = LAB_DIR / "endpoints.json"


def bootstrap_tenant() -> Path | None:
    """Create the lab's two tenants once (the web UI's users belong to both, maestro.lab.idp) and keep their admin
    keys in .lab/admin-key and .lab/admin-key-<second tenant> (0600); returns the first tenant's key file."""
    app1 = host_by_name("app1")
    probe = ssh(app1, "test -x /opt/maestro-api/venv/bin/maestro-api", check=False)
    if probe.returncode != 0:
        console.print("    [yellow]the Maestro API is not deployed: no tenant bootstrapped[/yellow]")
        return None
    for tenant in TENANTS:
        key_file = tenant_key_file(tenant)
        if key_file.exists() and key_file.read_text().strip():
            console.print(f"    tenant {tenant} already bootstrapped")
            continue
        out = ssh(app1, f"/usr/local/bin/maestro-api-admin bootstrap --tenant {tenant} --tier standard").stdout
        token = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if not token:
            raise LabError(f"maestro-api bootstrap printed no key for tenant {tenant}")
        write_private(key_file, (token + "\n").encode())
    return ADMIN_KEY_FILE


def tenant_key_file(tenant: str) -> Path:
    """Where the admin key of a lab tenant is kept (the first tenant's is ADMIN_KEY_FILE)."""
    return ADMIN_KEY_FILE if tenant == idp.FIRST_TENANT else LAB_DIR / f"admin-key-{tenant}"


def forget_tenant_keys() -> None:
    """Remove the tenants' admin keys: their tenants go with the hosts, and a kept key would stop the next lab from
    bootstrapping them."""
    for tenant in TENANTS:
        tenant_key_file(tenant).unlink(missing_ok=True)


def endpoints(admin_key: Path | None) -> dict[str, Any]:
    """Where each service of the lab answers, and the files a client needs (CA, keys, secrets)."""
    ports = platform_ports()
    edge, app1, mon, db1 = (host_by_name(n) for n in ("edge1", "app1", "mon1", "db1"))
    data: dict[str, Any] = {
        "api": f"https://{edge.ip}:{ports['https']}",
        "api_hostname": f"edge1.{DOMAIN}",
        # The MLflow web UI: sign in at the lab's provider with one of these subjects (no password).
        "ui": f"{idp.ui_origin()}/mlflow/",
        "ui_sign_in": ", ".join(f"{u.sub} ({u.tenant}, {u.role})" for u in idp.USERS),
        "idp": idp.issuer(),
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
