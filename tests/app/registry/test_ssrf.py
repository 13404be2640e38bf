"""The SSRF guard: a version's source must lie under {artifact_root}/{tenant_id}/, normalised."""

import uuid

import pytest
from maestro_api.core.errors import ProblemError
from maestro_api.registry.ssrf import check_source

TENANT = uuid.UUID("11111111-2222-3333-4444-555555555555")
OTHER = uuid.UUID("99999999-2222-3333-4444-555555555555")
S3_ROOT = "s3://maestro-artifacts/tenants"
FILE_ROOT = "file:///var/lib/maestro/artifacts"


@pytest.mark.parametrize(
    ("root", "source"),
    [
        (S3_ROOT, f"s3://maestro-artifacts/tenants/{TENANT}/models/churn/1"),
        (S3_ROOT, f"s3://maestro-artifacts/tenants/{TENANT}/x"),
        (S3_ROOT + "/", f"s3://maestro-artifacts/tenants/{TENANT}/1/abc/artifacts/model"),
        (FILE_ROOT, f"file:///var/lib/maestro/artifacts/{TENANT}/3/run/artifacts/model"),
    ],
)
def test_sources_under_the_tenant_root_are_accepted(root: str, source: str) -> None:
    assert check_source(source, artifact_root=root, tenant_id=TENANT) == source


@pytest.mark.parametrize(
    "source",
    [
        f"s3://maestro-artifacts/tenants/{OTHER}/models/churn/1",  # another tenant
        f"s3://maestro-artifacts/tenants/{TENANT}",  # the root itself, not below it
        f"s3://maestro-artifacts/tenants/{TENANT}/",
        f"s3://maestro-artifacts/tenants/{TENANT}/../{OTHER}/m",  # traversal
        f"s3://maestro-artifacts/tenants/{TENANT}/a/../../{OTHER}/m",
        f"s3://maestro-artifacts/tenants/{TENANT}/./m",
        f"s3://maestro-artifacts/tenants/{TENANT}//m",
        f"s3://maestro-artifacts/tenants/{TENANT}/%2e%2e/{OTHER}/m",  # encoded traversal
        f"s3://maestro-artifacts/tenants/{TENANT}\\..\\{OTHER}/m",
        f"s3://other-bucket/tenants/{TENANT}/m",  # another host
        f"S3://maestro-artifacts.evil.example/tenants/{TENANT}/m",
        f"s3://user:pw@maestro-artifacts/tenants/{TENANT}/m",  # credentials
        f"gs://maestro-artifacts/tenants/{TENANT}/m",  # another scheme
        f"http://169.254.169.254/tenants/{TENANT}/m",
        f"https://maestro-artifacts/tenants/{TENANT}/m",
        f"file:///etc/passwd#/tenants/{TENANT}/m",
        f"s3://maestro-artifacts/tenants/{TENANT}/m?x=1",
        f"s3://maestro-artifacts/tenants/{TENANT}/m\n",
        f"runs:/abc/{TENANT}/model",
        "models:/churn/1",
        f"/tenants/{TENANT}/m",
        f"s3://maestro-artifacts/tenants/{TENANT}x/m",  # a sibling whose name starts like the tenant id
        "",
        "s3://maestro-artifacts/tenants/" + str(TENANT) + "/" + "a" * 2000,
    ],
)
def test_sources_outside_the_tenant_root_are_refused_with_422(source: str) -> None:
    with pytest.raises(ProblemError) as info:
        check_source(source, artifact_root=S3_ROOT, tenant_id=TENANT)
    assert info.value.status == 422
    assert str(OTHER) not in (info.value.detail or "")
