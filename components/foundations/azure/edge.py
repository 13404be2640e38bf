"""The public edge: an Application Gateway (WAF_v2) carrying the WAF policy, driven by the AGIC add-on.

The WAF reaches the API through the Application Gateway Ingress Controller add-on: the gateway carries the WAF policy
as its default, and the API's Ingress names the same policy explicitly (`waf-policy-for-path`), so the API keeps its
WAF even if other Ingresses on the gateway get a different one.

TLS: the gateway reads the API's certificate from the Foundation's Key Vault with its own identity (allowed to read that
one secret only) and the API's Ingress names it (`appgw-ssl-certificate`) and turns on `ssl-redirect`: HTTP on the
gateway only redirects. The private key never passes through Pulumi or the stack config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.foundations.azure.identity import assign, managed_identity
from components.foundations.azure.keys import Keys
from components.foundations.azure.logs import diagnostics
from components.foundations.azure.network import Network
from components.foundations.azure.scope import AzureScope
from components.foundations.azure.waf import waf_policy

INGRESS_CLASS = "azure-application-gateway"
# The gateway's name for the API's certificate (an sslCertificates entry), which the Ingress annotation references.
APPGW_CERTIFICATE = "maestro-api-tls"


@dataclass(frozen=True)
class Edge:
    waf_policy: azure.network.WebApplicationFirewallPolicy
    """The WAF policy."""
    gateway: azure.network.ApplicationGateway
    """The Application Gateway AGIC drives."""
    ingress_annotations: dict[str, pulumi.Input[str]]
    """What the API's Ingress carries: the WAF policy and, with a certificate, TLS and the HTTP redirect."""


def edge(scope: AzureScope, net: Network, keys: Keys, logs_workspace: azure.operationalinsights.Workspace) -> Edge:
    name, cfg, args = scope.name, scope.args.config, scope.args
    policy = waf_policy(scope)
    public_ip = azure.network.PublicIPAddress(
        f"{name}-appgw-ip",
        resource_group_name=scope.rg,
        public_ip_address_name=f"{scope.base}-appgw-ip",
        location=cfg.location,
        sku={"name": "Standard", "tier": "Regional"},
        public_ip_allocation_method="Static",
        zones=list(cfg.zones),
        tags=scope.tags,
        opts=scope.child,
    )
    tls_options, tls_settings = _gateway_tls(scope, keys)
    gateway_name = f"{scope.base}-appgw"
    rg_name = f"{scope.base}-rg"
    gw_id = (
        f"/subscriptions/{cfg.subscription_id}/resourceGroups/{rg_name}/providers/Microsoft.Network/"
        f"applicationGateways/{gateway_name}"
    )
    # A gateway needs one listener/rule/pool to exist; AGIC replaces them with the Ingresses' routes.
    gateway = azure.network.ApplicationGateway(
        f"{name}-appgw",
        resource_group_name=scope.rg,
        application_gateway_name=gateway_name,
        location=cfg.location,
        sku={"name": "WAF_v2", "tier": "WAF_v2"},
        autoscale_configuration={
            "min_capacity": cfg.appgw_min_capacity,
            "max_capacity": cfg.appgw_max_capacity,
        },
        zones=list(cfg.zones),
        enable_http2=True,
        firewall_policy={"id": policy.id},
        force_firewall_policy_association=True,
        ssl_policy={"policy_type": "Predefined", "policy_name": "AppGwSslPolicy20220101S"},
        **tls_settings,
        gateway_ip_configurations=[{"name": "gateway", "subnet": {"id": net.subnets["appgw"].id}}],
        frontend_ip_configurations=[{"name": "public", "public_ip_address": {"id": public_ip.id}}],
        frontend_ports=[{"name": "http", "port": args.ports.http}],
        backend_address_pools=[{"name": "bootstrap"}],
        backend_http_settings_collection=[
            {"name": "bootstrap", "port": args.ports.http, "protocol": "Http", "request_timeout": 30}
        ],
        http_listeners=[
            {
                "name": "bootstrap",
                "protocol": "Http",
                "frontend_ip_configuration": {"id": f"{gw_id}/frontendIPConfigurations/public"},
                "frontend_port": {"id": f"{gw_id}/frontendPorts/http"},
            }
        ],
        request_routing_rules=[
            {
                "name": "bootstrap",
                "rule_type": "Basic",
                "priority": 20000,
                "http_listener": {"id": f"{gw_id}/httpListeners/bootstrap"},
                "backend_address_pool": {"id": f"{gw_id}/backendAddressPools/bootstrap"},
                "backend_http_settings": {"id": f"{gw_id}/backendHttpSettingsCollection/bootstrap"},
            }
        ],
        tags=scope.tags,
        opts=scope.opts(
            depends_on=tls_options,
            # AGIC owns the routing configuration from the first sync on. Not the certificates: AGIC only
            # references the one declared here (by name), so Pulumi keeps it in step with the config.
            ignore_changes=[
                "backendAddressPools",
                "backendHttpSettingsCollection",
                "httpListeners",
                "requestRoutingRules",
                "frontendPorts",
                "probes",
                "urlPathMaps",
                "redirectConfigurations",
                "rewriteRuleSets",
                "tags",
            ],
        ),
    )
    diagnostics(scope, logs_workspace, gateway, "appgw")
    annotations: dict[str, pulumi.Input[str]] = {
        "appgw.ingress.kubernetes.io/waf-policy-for-path": policy.id,
        "appgw.ingress.kubernetes.io/request-timeout": "60",
    }
    if cfg.tls_certificate_name is not None:
        annotations["appgw.ingress.kubernetes.io/appgw-ssl-certificate"] = APPGW_CERTIFICATE
        annotations["appgw.ingress.kubernetes.io/ssl-redirect"] = "true"
    return Edge(waf_policy=policy, gateway=gateway, ingress_annotations=annotations)


def _gateway_tls(scope: AzureScope, keys: Keys) -> tuple[list[pulumi.Resource], dict[str, Any]]:
    """The gateway's identity and its certificate from Key Vault (nothing without `tlsCertificateName`)."""
    certificate = scope.args.config.tls_certificate_name
    if certificate is None:
        return [], {}
    identity = managed_identity(scope, "appgw")
    # Read access to exactly the certificate's secret (Key Vault RBAC at secret scope), nothing else.
    grant = assign(
        scope,
        "appgw-certificate",
        "key_vault_secrets_user",
        identity.principal_id,
        keys.vault.id.apply(lambda v: f"{v}/secrets/{certificate}"),
    )
    # Versionless: the gateway polls Key Vault and serves renewed versions of the certificate.
    secret_id = keys.vault.properties.apply(lambda p: f"{(p.vault_uri or '').rstrip('/')}/secrets/{certificate}")
    return [grant], {
        "identity": {"type": "UserAssigned", "user_assigned_identities": [identity.id]},
        "ssl_certificates": [{"name": APPGW_CERTIFICATE, "key_vault_secret_id": secret_id}],
    }
