"""The RBAC matrix, served from core/rbac.py."""

from fastapi import APIRouter

from maestro_api.api.deps import Authorize
from maestro_api.core.rbac import MATRIX, PERMISSIONS, ROLE_DESCRIPTIONS, ROLES
from maestro_api.schemas import PermissionPublic, RolePublic, RolesPublic

router = APIRouter(prefix="/roles", tags=["roles"])


@router.get("", dependencies=[Authorize("roles:read")])
async def list_roles() -> RolesPublic:
    """Every role with its permissions, and every permission."""
    return RolesPublic(
        roles=[RolePublic(name=r, description=ROLE_DESCRIPTIONS[r], permissions=sorted(MATRIX[r])) for r in ROLES],
        permissions=[PermissionPublic(name=p, description=d) for p, d in PERMISSIONS.items()],
    )
