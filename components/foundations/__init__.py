"""The Foundations: for each deployment target, the cluster and everything around it the workloads need, behind
one contract.

- contract.py       the seam: `FoundationBuilder` (what a target exports as `build`), the `Foundation` component
                    (`maestro:<target>:Foundation`) and `FoundationOutputs` (what the workloads receive)
- table.py          `FOUNDATIONS`: target name -> builder, the one lookup the platform makes
- aws/, gcp/, azure/, kubernetes/
                    one folder per target, split by concern (network, keys, cluster, buckets, redis, edge, identity)
- cloud.py          what the GCP and Azure Foundations share (their args, and the `Scope` their resources go through)
- ingress_nginx.py  the ingress-nginx controller (namespace, NetworkPolicies, release) of GCP and plain Kubernetes

This package's index imports nothing: the workloads import the contract without loading any cloud's SDK.
"""
