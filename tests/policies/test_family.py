"""A family's decorators: they keep every rule in definition order, fill in the family and the defaults, and take
the platforms a rule covers from its type tokens (or refuse a rule that states them twice or not at all)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from maestro_policies.registry import FAMILY_RULES
from maestro_policies.rule import Family, Res

META: dict[str, Any] = {"title": "t", "rationale": "r", "severity": "low", "fix": "f", "docs": "https://example.org/"}


def test_family_keeps_its_rules_in_order_with_derived_covers() -> None:
    family = Family("demo")

    @family.resource(id="X-1", types=["gcp:storage/bucket:Bucket", "aws:s3/bucketV2:BucketV2"], **META)
    def first(r: Res) -> Iterable[str]:
        yield "bad."

    @family.stack(id="X-2", covers=("kubernetes",), enforcement="advisory", **META)
    def second(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
        return ()

    assert [r.id for r in family] == ["X-1", "X-2"]
    assert [r.family for r in family] == ["demo", "demo"]
    assert (first.kind, first.covers, first.enforcement) == ("resource", ("aws", "gcp"), "mandatory")
    assert (second.kind, second.covers, second.enforcement) == ("stack", ("kubernetes",), "advisory")


def test_family_refuses_covers_stated_twice_or_not_at_all() -> None:
    family = Family("demo")
    with pytest.raises(ValueError, match="X-3: give covers exactly"):
        family.resource(id="X-3", types=["aws:kms/key:Key"], covers=("aws",), **META)(lambda r: ())
    with pytest.raises(ValueError, match="X-4: give covers exactly"):
        family.stack(id="X-4", **META)(lambda resources, env: ())
    with pytest.raises(ValueError, match="no platform for type tokens of \\['random'\\]"):
        family.resource(id="X-5", types=["random:index/randomPassword:RandomPassword"], **META)(lambda r: ())
    assert list(family) == []


def test_every_rule_of_the_pack_is_registered_once() -> None:
    ids = [r.id for r in FAMILY_RULES]
    assert len(ids) == len(set(ids))
