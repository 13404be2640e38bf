"""The AWS Load Balancer Controller (Helm release, IRSA role) and the ingress annotations that make it create an
internet-facing ALB for the API with the WAF web ACL attached, TLS 1.2+ when a certificate is configured, access
logs to the access-log bucket, and deletion protection in prod."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.foundations.aws.policies import irsa_trust
from components.workloads.charts import EKS_CHARTS, Chart

NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
INGRESS_CLASS = "alb"
WAF_ANNOTATION = "alb.ingress.kubernetes.io/wafv2-acl-arn"

# The controller's permissions, condensed from the upstream install/iam_policy.json of the pinned chart's app
# version: read the network, manage its own load balancers, target groups and security groups, attach WAF/Shield.
CONTROLLER_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
            },
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "ec2:Describe*",
                    "ec2:GetCoipPoolUsage",
                    "ec2:GetSecurityGroupsForVpc",
                    "elasticloadbalancing:Describe*",
                    "acm:ListCertificates",
                    "acm:DescribeCertificate",
                    "iam:ListServerCertificates",
                    "iam:GetServerCertificate",
                    "cognito-idp:DescribeUserPoolClient",
                    "wafv2:GetWebACL",
                    "wafv2:GetWebACLForResource",
                    "wafv2:AssociateWebACL",
                    "wafv2:DisassociateWebACL",
                    "shield:GetSubscriptionState",
                    "shield:DescribeProtection",
                    "shield:CreateProtection",
                    "shield:DeleteProtection",
                ],
            },
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "ec2:CreateSecurityGroup",
                    "ec2:DeleteSecurityGroup",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:CreateTags",
                    "ec2:DeleteTags",
                ],
            },
            {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "elasticloadbalancing:CreateLoadBalancer",
                    "elasticloadbalancing:CreateTargetGroup",
                    "elasticloadbalancing:CreateListener",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:CreateRule",
                    "elasticloadbalancing:DeleteRule",
                    "elasticloadbalancing:ModifyRule",
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                    "elasticloadbalancing:SetIpAddressType",
                    "elasticloadbalancing:SetSecurityGroups",
                    "elasticloadbalancing:SetSubnets",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:ModifyListener",
                    "elasticloadbalancing:AddListenerCertificates",
                    "elasticloadbalancing:RemoveListenerCertificates",
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets",
                    "elasticloadbalancing:AddTags",
                    "elasticloadbalancing:RemoveTags",
                    "elasticloadbalancing:SetWebAcl",
                ],
            },
        ],
    }
)


class LoadBalancerController(pulumi.ComponentResource):
    """Exposes `release`."""

    def __init__(
        self,
        name: str,
        *,
        cluster_name: pulumi.Input[str],
        region: str,
        vpc_id: pulumi.Input[str],
        oidc_provider_arn: pulumi.Input[str],
        issuer: pulumi.Input[str],
        chart_version: str,
        k8s_provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("maestro:aws:LoadBalancerController", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=irsa_trust(oidc_provider_arn, issuer, NAMESPACE, SERVICE_ACCOUNT),
            opts=child,
        )
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=CONTROLLER_POLICY, opts=child)
        self.release = Chart("aws-load-balancer-controller", chart_version, EKS_CHARTS).release(
            f"{name}-release",
            NAMESPACE,
            {
                "clusterName": cluster_name,
                "region": region,
                "vpcId": vpc_id,
                "replicaCount": 2,
                "serviceAccount": {"name": SERVICE_ACCOUNT, "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
                "enableWafv2": True,
                "enableShield": False,
                "createIngressClassResource": True,
                "ingressClass": INGRESS_CLASS,
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": "200m", "memory": "256Mi"},
                },
            },
            pulumi.ResourceOptions(parent=self, provider=k8s_provider),
        )
        self.register_outputs({"role": role.arn})


def alb_annotations(
    *,
    waf_acl_arn: pulumi.Input[str],
    certificate_arn: str | None,
    log_bucket: pulumi.Input[str],
    deletion_protection: bool,
    https_port: int,
    http_port: int,
) -> Mapping[str, pulumi.Input[str]]:
    """What the API's Ingress carries so the controller builds its ALB with the WAF attached."""
    attributes = pulumi.Output.from_input(log_bucket).apply(
        lambda bucket: ",".join(
            [
                "access_logs.s3.enabled=true",
                f"access_logs.s3.bucket={bucket}",
                "access_logs.s3.prefix=alb",
                f"deletion_protection.enabled={str(deletion_protection).lower()}",
                "routing.http.drop_invalid_header_fields.enabled=true",
            ]
        )
    )
    annotations: dict[str, pulumi.Input[str]] = {
        "alb.ingress.kubernetes.io/scheme": "internet-facing",
        "alb.ingress.kubernetes.io/target-type": "ip",
        # The load balancer checks the API's liveness path (docs/interfaces.md).
        "alb.ingress.kubernetes.io/healthcheck-path": "/healthz",
        WAF_ANNOTATION: waf_acl_arn,
        "alb.ingress.kubernetes.io/load-balancer-attributes": attributes,
    }
    if certificate_arn:
        annotations.update(
            {
                "alb.ingress.kubernetes.io/certificate-arn": certificate_arn,
                "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": https_port}, {"HTTP": http_port}]),
                "alb.ingress.kubernetes.io/ssl-redirect": str(https_port),
                "alb.ingress.kubernetes.io/ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            }
        )
    else:
        annotations["alb.ingress.kubernetes.io/listen-ports"] = json.dumps([{"HTTP": http_port}])
    return annotations
