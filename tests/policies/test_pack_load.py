"""Load the real pack the way the Pulumi CLI does: `python -u -m pulumi.policy <engine> policies` (what
pulumi-analyzer-policy-python runs), read the port it prints on stdout, and talk gRPC to it."""

from __future__ import annotations

import pytest
from google.protobuf import empty_pb2
from maestro_policies.registry import all_rules
from pulumi.runtime.proto import analyzer_pb2

from maestro.offline import policycheck

pytestmark = pytest.mark.servers  # starts a real gRPC server in a subprocess (a few seconds)


def test_pack_announces_every_rule_over_grpc() -> None:
    with policycheck.PackServer() as stub:
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        # The engine configures, then analyzes; do the same and check one verdict comes back over the wire.
        stub.Configure(policycheck.configure_request(policycheck.policy_config("prod")))
        req = analyzer_pb2.AnalyzeRequest(
            type="aws:rds/instance:Instance",
            urn="urn:pulumi:prod::maestro::aws:rds/instance:Instance::pg",
            name="pg",
            properties=policycheck.struct({"publiclyAccessible": True}),
        )
        response = stub.Analyze(req)
    rules = {r.id: r for r in all_rules()}
    assert info.name == "maestro-baseline"
    assert [p.name for p in info.policies] == [r.id for r in all_rules()]
    for p in info.policies:
        rule = rules[p.name]
        assert p.description == rule.title
        assert p.url == rule.docs and p.remediation_steps == rule.fix
        assert p.enforcementLevel == (
            analyzer_pb2.MANDATORY if rule.enforcement == "mandatory" else analyzer_pb2.ADVISORY
        )
        assert "environment" in p.configSchema.properties
    db001 = [d for d in response.diagnostics if d.policyName == "MAESTRO-DB-001"]
    assert len(db001) == 1 and db001[0].enforcementLevel == analyzer_pb2.MANDATORY
