"""Every target's Foundation, by the stack's `maestro:cloud`: the one place `MaestroPlatform` looks a Foundation up.

Adding a cloud is one folder beside these (its `build`, a `FoundationBuilder`) and one entry here
(docs/architecture.md).
"""

from __future__ import annotations

from components.foundations import aws, azure, gcp, kubernetes
from components.foundations.contract import FoundationBuilder

FOUNDATIONS: dict[str, FoundationBuilder] = {
    "aws": aws.build,
    "gcp": gcp.build,
    "azure": azure.build,
    "kubernetes": kubernetes.build,
}
