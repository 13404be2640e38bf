"""The Log Analytics workspace every log goes to (WAF decisions, the cluster, blob access), and the diagnostic
settings that send them."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.foundations.azure.scope import AzureScope


def workspace(scope: AzureScope) -> azure.operationalinsights.Workspace:
    cfg = scope.args.config
    return azure.operationalinsights.Workspace(
        f"{scope.name}-logs",
        resource_group_name=scope.rg,
        workspace_name=f"{scope.base}-logs",
        location=cfg.location,
        sku={"name": "PerGB2018"},
        retention_in_days=cfg.log_retention_days,
        tags=scope.tags,
        opts=scope.child,
    )


def diagnostics(
    scope: AzureScope,
    logs_workspace: azure.operationalinsights.Workspace,
    resource: pulumi.CustomResource,
    suffix: str,
    target: pulumi.Input[str] | None = None,
    *,
    logs: list[dict[str, Any]] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> azure.monitor.DiagnosticSetting:
    """Logs and metrics of `target` (default: `resource` itself) to the workspace, after `resource` exists; named
    `<name>-<suffix>-diagnostics`, the pairing the policy pack expects (the suffix starts with the monitored
    resource's own suffix). Without `logs`/`metrics`: every log category group and every metric."""
    return azure.monitor.DiagnosticSetting(
        f"{scope.name}-{suffix}-diagnostics",
        name=f"{scope.base}-{suffix}",
        resource_uri=target if target is not None else resource.id,
        workspace_id=logs_workspace.id,
        logs=logs if logs is not None else [{"category_group": "allLogs", "enabled": True}],
        metrics=metrics if metrics is not None else [{"category": "AllMetrics", "enabled": True}],
        opts=scope.opts(depends_on=[resource]),
    )
