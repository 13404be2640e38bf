"""The lab's identity provider for the MLflow web UI (ansible/roles/lab_idp, docs/ui.md): who signs in, where.

Two tenants' users in different roles. The provider's sign-in page asks only for the subject: there are no
passwords in the lab. ``SECOND_TENANT`` is bootstrapped beside the first (``lab``) so that one tenant's user can
try the other's URLs.
"""

from __future__ import annotations

from dataclasses import dataclass

from maestro.lab.topology import HOSTS, host_by_name, platform_ports

FIRST_TENANT = "lab"
SECOND_TENANT = "lab-b"
CLIENT_ID = "maestro-ui"
API_AUDIENCE = "maestro-api"


@dataclass(frozen=True)
class LabUser:
    """A user the lab's provider signs in: its subject, tenant and Maestro role (the ID token's claims)."""

    sub: str
    tenant: str
    role: str

    def claims(self) -> dict[str, str]:
        return {"sub": self.sub, "email": f"{self.sub}@maestro.lab", "maestro_tenant": self.tenant,
                "maestro_role": self.role}  # fmt: skip


USERS: tuple[LabUser, ...] = (
    LabUser("ada", FIRST_TENANT, "data-scientist"),
    LabUser("vic", FIRST_TENANT, "viewer"),
    LabUser("tess", FIRST_TENANT, "tenant-admin"),
    LabUser("bea", SECOND_TENANT, "data-scientist"),
)


def issuer() -> str:
    """The provider's issuer (its base URL) on the host of the ``idp`` group, by address (its certificate names it)."""
    host = next(h for h in HOSTS if "idp" in h.groups)
    return f"https://{host.ip}:{platform_ports()['idp']}"


def ui_origin() -> str:
    """The UI's public origin: the edge, as `make lab` prints it."""
    edge = host_by_name("edge1")
    port = platform_ports()["https"]
    return f"https://{edge.ip}" + ("" if port == 443 else f":{port}")
