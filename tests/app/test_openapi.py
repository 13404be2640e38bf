"""app/openapi.json is generated from the code (`make openapi`); this fails when they drift."""

from maestro_api.cli import openapi_document
from maestro_api.core.rbac import PERMISSIONS

from maestro.paths import ROOT

APP = ROOT / "app"


def test_committed_openapi_matches_the_code() -> None:
    assert (APP / "openapi.json").read_text() == openapi_document(), "app/openapi.json drifted: run `make openapi`"


def test_every_v1_operation_declares_bearer_auth() -> None:
    import json

    spec = json.loads(openapi_document())
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/v1/"):
                assert op.get("security") == [{"HTTPBearer": []}], (method, path)
    assert len(PERMISSIONS) >= 35
