"""What the Azure Foundation receives, and where its resources go (the resource group every one of them lives in)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components.config import AzureConfig
from components.foundations.cloud import CloudFoundationArgs, Scope


@dataclass(frozen=True)
class AzureFoundationArgs(CloudFoundationArgs[AzureConfig]):
    """The common Foundation args (components/foundations/cloud.py), nothing more. On Azure the WAF mode `block` is
    Prevention and `count` Detection, and the backup retention is the backup container's immutability period."""


@dataclass(frozen=True)
class AzureScope(Scope[AzureFoundationArgs]):
    """A `Scope` with the Foundation's resource group."""

    resource_group: azure.resources.ResourceGroup
    """`<namePrefix>-<env>-rg`, in the configured location."""

    @property
    def rg(self) -> pulumi.Output[str]:
        """The resource group's name."""
        name: pulumi.Output[str] = self.resource_group.name
        return name

    @property
    def base(self) -> str:
        """`<namePrefix>-<env>`: the prefix of every Azure resource name."""
        return f"{self.args.config.name_prefix}-{self.args.environment}"
