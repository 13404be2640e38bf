"""Importing this module serves the pack: `PolicyPack(...)` starts the gRPC server, prints its port on stdout (what
the Pulumi CLI reads) and blocks. Only policies/__main__.py imports it; tests import the rule modules instead."""

import datetime as _dt

from pulumi_policy import EnforcementLevel, PolicyPack

from .exceptions import load
from .registry import PACK_DESCRIPTION, PACK_NAME, build_policies

PolicyPack(
    name=PACK_NAME,
    description=PACK_DESCRIPTION,
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=build_policies(load(), _dt.date.today()),  # type: ignore[arg-type]
)
