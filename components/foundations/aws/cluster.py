"""EKS: KMS-encrypted secrets, every control-plane log type, a private API endpoint in prod, a managed node group
in the private subnets (IMDSv2 only, encrypted volumes), the IRSA OIDC provider and the EBS CSI driver."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config import AwsConfig
from components.foundations.aws.policies import irsa_trust, service_trust

STORAGE_CLASS = "gp3-encrypted"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
# The certificate thumbprint IAM wants for OIDC providers; AWS no longer checks it for EKS issuers.
EKS_OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


class Cluster(pulumi.ComponentResource):
    """Exposes `cluster`, `oidc_provider`, `issuer`, `node_group`, `kubeconfig` (secret), `node_security_group_id`."""

    def __init__(
        self,
        name: str,
        *,
        config: AwsConfig,
        region: str,
        private_subnet_ids: list[pulumi.Output[str]],
        cluster_key_arn: pulumi.Input[str],
        storage_key_arn: pulumi.Input[str],
        deletion_protection: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("maestro:aws:Cluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(f"{name}-role", assume_role_policy=service_trust("eks.amazonaws.com"), opts=child)
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-role-policy",
            role=role.name,
            policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
            opts=child,
        )
        self.cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=name,
            version=config.kubernetes_version,
            role_arn=role.arn,
            vpc_config={
                "subnet_ids": private_subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": not config.private_endpoint_only,
                "public_access_cidrs": list(config.public_access_cidrs) or None,
            },
            encryption_config={"provider": {"key_arn": cluster_key_arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=LOG_TYPES,
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            deletion_protection=deletion_protection,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment], protect=deletion_protection),
        )
        self.node_security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.issuer = self.cluster.identities[0].oidcs[0].issuer
        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=self.issuer,
            client_id_lists=["sts.amazonaws.com"],
            thumbprint_lists=[EKS_OIDC_THUMBPRINT],
            opts=child,
        )

        node_role = aws.iam.Role(f"{name}-node-role", assume_role_policy=service_trust("ec2.amazonaws.com"), opts=child)
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy.lower()}",
                role=node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}",
                opts=child,
            )
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
        ]
        template = aws.ec2.LaunchTemplate(
            f"{name}-nodes-lt",
            # IMDSv2 only, and one hop: pods cannot borrow the node's role through the metadata service.
            metadata_options={"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1},
            block_device_mappings=[
                {
                    "device_name": "/dev/xvda",
                    "ebs": {
                        "volume_size": 50,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "kms_key_id": storage_key_arn,
                    },
                }
            ],
            opts=child,
        )
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=self.cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=private_subnet_ids,
            instance_types=list(config.node_instance_types),
            scaling_config={
                "min_size": config.node_min,
                "max_size": config.node_max,
                "desired_size": config.node_desired,
            },
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            update_config={"max_unavailable": 1},
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=node_policies, ignore_changes=["scalingConfig.desiredSize"]
            ),
        )
        ebs_role = aws.iam.Role(
            f"{name}-ebs-csi-role",
            assume_role_policy=irsa_trust(self.oidc_provider.arn, self.issuer, "kube-system", "ebs-csi-controller-sa"),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ebs-csi-policy",
            role=ebs_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-ebs-csi-kms",
            role=ebs_role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": [
                                "kms:CreateGrant",
                                "kms:Encrypt",
                                "kms:Decrypt",
                                "kms:ReEncrypt*",
                                "kms:GenerateDataKey*",
                                "kms:DescribeKey",
                            ],
                            "Resource": [storage_key_arn],
                        }
                    ],
                }
            ),
            opts=child,
        )
        self.addons = [
            aws.eks.Addon(
                f"{name}-addon-{addon}",
                cluster_name=self.cluster.name,
                addon_name=addon,
                service_account_role_arn=ebs_role.arn if addon == "aws-ebs-csi-driver" else None,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_group]),
            )
            for addon in ("vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver")
        ]
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data).apply(
                lambda v: _kubeconfig(v[0], v[1], v[2], region)
            )
        )
        self.register_outputs({"name": self.cluster.name})


def _kubeconfig(name: str, endpoint: str, ca: str, region: str) -> str:
    """A kubeconfig that authenticates with `aws eks get-token` (no static credentials in it)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": ["eks", "get-token", "--cluster-name", name, "--region", region],
                        }
                    },
                }
            ],
        }
    )


def storage_class(
    name: str,
    parent: pulumi.Resource,
    cluster: Cluster,
    *,
    provider: pulumi.ProviderResource,
    key_arn: pulumi.Input[str],
    retain: bool,
) -> k8s.storage.v1.StorageClass:
    """`STORAGE_CLASS`: gp3 volumes encrypted with `key_arn`, through the EBS CSI driver (so after the add-ons);
    `retain` keeps a volume when its claim is deleted (prod)."""
    return k8s.storage.v1.StorageClass(
        f"{name}-storage-class",
        metadata={"name": STORAGE_CLASS},
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key_arn},
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        reclaim_policy="Retain" if retain else "Delete",
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=cluster.addons),
    )
