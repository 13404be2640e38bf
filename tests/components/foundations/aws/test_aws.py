"""The AWS Foundation under mocks (dev-aws, prod-aws): security per resource type, identity wiring, the WAF on the
API's load balancer, and the documented prod/dev differences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.foundations.aws.identity import ROLE_ARN_ANNOTATION
from components.foundations.aws.ingress import WAF_ANNOTATION
from components.foundations.aws.waf import MANAGED_RULE_GROUPS
from components.workloads.mlflow import SERVICE_ACCOUNT as MLFLOW_SA
from components.workloads.postgres import SERVICE_ACCOUNT as POSTGRES_SA
from maestro.offline import mockrun
from maestro.paths import ROOT
from tests.components.stacks import by_suffix, evaluated

pytestmark = pytest.mark.stacks

AWS_STACKS = ("dev-aws", "prod-aws")


def _in(r: mockrun.RecordedResource) -> dict[str, Any]:
    return dict(mockrun.plain(r.inputs))


def _buckets(stack: str) -> dict[str, mockrun.RecordedResource]:
    """Primary-region buckets by purpose (DR replicas excluded)."""
    return {
        _in(r)["tags"]["purpose"]: r for r in evaluated(stack).of_type("aws:s3/bucket:Bucket") if "-dr-" not in r.name
    }


def _for_bucket(stack: str, type_token: str, bucket: mockrun.RecordedResource) -> list[dict[str, Any]]:
    return [_in(r) for r in evaluated(stack).of_type(type_token) if r.parent == bucket.parent]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_bucket_is_private_encrypted_versioned_tls_only_and_expiring(stack: str) -> None:
    buckets = evaluated(stack).of_type("aws:s3/bucket:Bucket")
    assert len(buckets) >= 3
    for b in buckets:
        (pab,) = _for_bucket(stack, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", b)
        assert all(
            pab[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        (own,) = _for_bucket(stack, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", b)
        assert own["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        (ver,) = _for_bucket(stack, "aws:s3/bucketVersioning:BucketVersioning", b)
        assert ver["versioningConfiguration"]["status"] == "Enabled"
        (pol,) = _for_bucket(stack, "aws:s3/bucketPolicy:BucketPolicy", b)
        deny = json.loads(pol["policy"])["Statement"][0]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        (life,) = _for_bucket(stack, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", b)
        assert life["rules"][0]["status"] == "Enabled"
        (sse,) = _for_bucket(
            stack, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", b
        )
        algorithm = sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        purpose = _in(b)["tags"]["purpose"]
        # Log buckets must be SSE-S3: AWS delivers S3 and ALB access logs to nothing else.
        assert algorithm == ("AES256" if purpose == "logs" else "aws:kms"), b.urn


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_data_buckets_log_to_the_access_log_bucket(stack: str) -> None:
    buckets = _buckets(stack)
    log_name = buckets["logs"].outputs["bucket"]
    for purpose in ("backup", "artifact"):
        (logging,) = _for_bucket(stack, "aws:s3/bucketLogging:BucketLogging", buckets[purpose])
        assert logging["targetBucket"] == log_name


def test_object_lock_and_replication_only_in_prod() -> None:
    prod, dev = _buckets("prod-aws"), _buckets("dev-aws")
    assert _in(prod["backup"])["objectLockEnabled"] is True
    (lock,) = _for_bucket(
        "prod-aws", "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration", prod["backup"]
    )
    assert lock["rule"]["defaultRetention"]["days"] == 35
    assert not evaluated("dev-aws").of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert _in(dev["backup"]).get("objectLockEnabled") is False
    replications = evaluated("prod-aws").of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert len(replications) == 2
    assert not evaluated("dev-aws").of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    dr_provider = [r for r in evaluated("prod-aws").of_type("pulumi:providers:aws") if "-dr-" in r.name]
    assert [_in(p)["region"] for p in dr_provider] == ["us-west-2"]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_kms_keys_rotate(stack: str) -> None:
    keys = evaluated(stack).of_type("aws:kms/key:Key")
    assert len(keys) >= 4 and all(_in(k)["enableKeyRotation"] is True for k in keys)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_eks_is_encrypted_logged_and_private_in_prod(stack: str) -> None:
    (cluster,) = evaluated(stack).of_type("aws:eks/cluster:Cluster")
    spec = _in(cluster)
    assert spec["encryptionConfig"]["resources"] == ["secrets"] and spec["encryptionConfig"]["provider"]["keyArn"]
    assert set(spec["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert spec["vpcConfig"]["endpointPrivateAccess"] is True
    assert spec["vpcConfig"]["endpointPublicAccess"] is (stack == "dev-aws")
    (template,) = evaluated(stack).of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert _in(template)["metadataOptions"]["httpTokens"] == "required"


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_network_spans_three_zones_with_flow_logs(stack: str) -> None:
    subnets = [_in(s) for s in evaluated(stack).of_type("aws:ec2/subnet:Subnet")]
    private = [s for s in subnets if "kubernetes.io/role/internal-elb" in s["tags"]]
    assert len({s["availabilityZone"] for s in private}) == 3
    assert all(not s.get("mapPublicIpOnLaunch") for s in subnets)
    (flow,) = evaluated(stack).of_type("aws:ec2/flowLog:FlowLog")
    assert _in(flow)["trafficType"] == "ALL"
    nats = evaluated(stack).of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == (3 if stack == "prod-aws" else 1)


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_redis_has_tls_auth_and_encryption_at_rest(stack: str) -> None:
    (group,) = evaluated(stack).of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    spec = group.inputs
    assert spec["transitEncryptionEnabled"] is True and spec["atRestEncryptionEnabled"] in (True, "true")
    assert mockrun.is_secret(spec["authToken"]) and spec["kmsKeyId"]
    assert spec["multiAzEnabled"] is (stack == "prod-aws")
    assert spec["automaticFailoverEnabled"] is (stack == "prod-aws")


def _role_policy(stack: str, key: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    resources = evaluated(stack)
    role = by_suffix(resources, f"-identity-{key}-role")
    policy = by_suffix(resources, f"-identity-{key}-policy")
    return json.loads(_in(role)["assumeRolePolicy"]), json.loads(_in(policy)["policy"]), role.outputs["arn"]


@pytest.mark.parametrize("stack", AWS_STACKS)
@pytest.mark.parametrize(
    ("key", "bucket", "other", "namespace", "service_account"),
    [
        ("postgres-backup", "backup", "artifact", "maestro-data", POSTGRES_SA),
        ("mlflow", "artifact", "backup", "maestro", MLFLOW_SA),
    ],
)
def test_each_identity_reaches_only_its_bucket(
    stack: str, key: str, bucket: str, other: str, namespace: str, service_account: str
) -> None:
    trust, policy, role_arn = _role_policy(stack, key)
    buckets = _buckets(stack)
    mine, theirs = buckets[bucket].outputs["arn"], buckets[other].outputs["arn"]
    (condition,) = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
    assert [v for k, v in condition.items() if k.endswith(":sub")] == [
        f"system:serviceaccount:{namespace}:{service_account}"
    ]
    s3_resources = {
        r for s in policy["Statement"] if any(a.startswith("s3:") for a in s["Action"]) for r in s["Resource"]
    }
    assert s3_resources == {mine, f"{mine}/*"}
    assert not any(theirs in r for r in s3_resources)
    # The pod's service account carries exactly this role.
    sas = [_in(r) for r in evaluated(stack).of_type("kubernetes:core/v1:ServiceAccount")]
    (sa,) = [s for s in sas if s["metadata"]["name"] == service_account and s["metadata"]["namespace"] == namespace]
    assert sa["metadata"]["annotations"][ROLE_ARN_ANNOTATION] == role_arn


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_the_api_has_no_bucket_identity(stack: str) -> None:
    roles = [r.name for r in evaluated(stack).of_type("aws:iam/role:Role") if "-identity-" in r.name]
    assert sorted(roles) == sorted(["maestro-aws-identity-postgres-backup-role", "maestro-aws-identity-mlflow-role"])


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_waf_is_attached_to_the_api_load_balancer(stack: str) -> None:
    resources = evaluated(stack)
    (acl,) = resources.of_type("aws:wafv2/webAcl:WebAcl")
    ingress = _in(by_suffix(resources, "-api-ingress"))
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert ingress["metadata"]["annotations"][WAF_ANNOTATION] == acl.outputs["arn"]
    groups = [
        r["statement"]["managedRuleGroupStatement"]["name"]
        for r in _in(acl)["rules"]
        if "managedRuleGroupStatement" in r["statement"]
    ]
    assert groups == list(MANAGED_RULE_GROUPS)
    assert any("rateBasedStatement" in r["statement"] for r in _in(acl)["rules"])
    (logging,) = resources.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert _in(logging)["resourceArn"] == acl.outputs["arn"]
    (controller,) = [r for r in resources.of_type("kubernetes:helm.sh/v3:Release") if "alb-controller" in r.name]
    assert _in(controller)["values"]["enableWafv2"] is True


def test_waf_blocks_in_prod_and_counts_in_dev() -> None:
    def actions(stack: str) -> set[str]:
        (acl,) = evaluated(stack).of_type("aws:wafv2/webAcl:WebAcl")
        return {next(iter(r.get("overrideAction") or r["action"])) for r in _in(acl)["rules"]}

    assert actions("prod-aws") == {"none", "block"}
    assert actions("dev-aws") == {"count"}


def test_prod_postgres_is_three_synchronous_members_with_wal_g_to_the_backup_bucket() -> None:
    for stack, members, sync in (("prod-aws", 3, True), ("dev-aws", 1, False)):
        (pg,) = evaluated(stack).of_type("kubernetes:acid.zalan.do/v1:postgresql")
        spec = _in(pg)["spec"]
        assert spec["numberOfInstances"] == members and spec["patroni"]["synchronous_mode"] is sync
        env = {e["name"]: e["value"] for e in spec["env"]}
        assert env["WAL_S3_BUCKET"] == _buckets(stack)["backup"].outputs["bucket"]
        assert env["USE_WALG_BACKUP"] == "true" and env["WALG_S3_SSE"] == "aws:kms"
        assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
        assert env["BACKUP_NUM_TO_RETAIN"] == ("35" if stack == "prod-aws" else "7")


def test_images_are_built_from_the_repository_and_pinned_by_digest() -> None:
    resources = evaluated("prod-aws")
    images = {_in(r)["dockerfile"]["location"].split("/")[-2]: r for r in resources.of_type("docker-build:index:Image")}
    assert set(images) == {"app", "mlflow"}
    # The API's Dockerfile copies the workspace lock file, so its context is the repository root; MLflow's is its own.
    root = ROOT
    assert Path(_in(images["app"])["context"]["location"]) == root
    assert Path(_in(images["mlflow"])["context"]["location"]) == root / "images" / "mlflow"
    (api,) = [
        c
        for _, s in [(r, _in(r)["spec"]["template"]["spec"]) for r in [by_suffix(resources, "-api-deployment")]]
        for c in s["containers"]
    ]
    assert api["image"] == images["app"].outputs["ref"] and "@sha256:" in api["image"]


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_outputs_operators_need(stack: str) -> None:
    outputs = evaluated(stack).outputs
    for key in ("apiUrl", "grafanaUrl", "clusterName", "kubeconfig", "backupBucket", "artifactBucket", "wafId"):
        assert outputs.get(key), key
    assert mockrun.is_secret(outputs["kubeconfig"])
