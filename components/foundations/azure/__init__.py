"""The Azure Foundation: each module creates one concern's resources under `maestro:azure:Foundation`, in the
Foundation's resource group (an `AzureScope`).

- foundation.py  `build`: the resource group, the parts below in order, and the contract
- scope.py       `AzureFoundationArgs` (what the Foundation receives) and `AzureScope`
- network.py     VNet, a subnet and NSG per purpose, private DNS zones, private endpoints
- logs.py        the Log Analytics workspace and the diagnostic settings that feed it
- keys.py        Key Vault and its rotating HSM keys, one per purpose
- edge.py        the Application Gateway (WAF_v2) with the WAF policy and the API's TLS certificate from Key Vault
- waf.py         the WAF policy and its rules
- cluster.py     private AKS with Workload Identity, KMS, Cilium and the AGIC add-on; the Kubernetes provider
- storage.py     backup, artifact and flow-log storage accounts; the VNet flow log
- redis.py       Azure Cache for Redis behind a private endpoint
- identity.py    managed identities, role assignments, and one federated identity per workload
"""

from components.foundations.azure.foundation import build

__all__ = ["build"]
