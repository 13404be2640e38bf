"""The AWS Foundation: everything the workloads need from AWS, returned as `FoundationOutputs`.

- foundation.py  `build`: assembles the parts below under `maestro:aws:Foundation` and fills the contract
- keys.py        KMS keys with rotation, one per purpose
- network.py     VPC over 3 AZs, private node subnets, NAT per AZ in prod, flow logs
- buckets.py     backup, artifact and access-log buckets with every protection, DR replication
- cluster.py     EKS: private endpoint in prod, KMS-encrypted secrets, control-plane logs, node group, IRSA; the
                 encrypted StorageClass
- identity.py    one IAM role per workload identity, each reaching exactly one bucket
- redis.py       ElastiCache: TLS, AUTH, at-rest encryption, multi-AZ in prod
- waf.py         WAFv2 web ACL (managed rule groups + rate limit), logged
- ingress.py     the AWS Load Balancer Controller and the annotations that put the WAF on the API's ALB
- registry.py    ECR repositories for the images the program builds
- policies.py    IAM policy documents as plain JSON (no invoke needed)

Unlike the other targets, the parts are components of their own (`maestro:aws:Keys`, `maestro:aws:Network`, ...):
their children's URNs carry those types, so they stay.
"""

from components.foundations.aws.foundation import build

__all__ = ["build"]
