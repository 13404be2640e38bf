"""A family's decorators: they keep every rule in definition order, fill in the family and the defaults, and take
the platforms a rule covers from its type tokens (or refuse a rule that states them twice or not at all)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest
from maestro_policies.registry import FAMILY_RULES
from maestro_policies.rule import Family, Res, SeverityName

ABOUT: tuple[str, str, SeverityName, str, str] = ("t", "r", "low", "f", "https://example.org/")
"""Title, rationale, severity, fix and docs: what follows the id."""


def test_family_keeps_its_rules_in_order_with_derived_covers() -> None:
    family = Family("demo")

    @family.resource("X-1", *ABOUT, types=["gcp:storage/bucket:Bucket", "aws:s3/bucketV2:BucketV2"])
    def first(r: Res) -> Iterable[str]:
        yield "bad."

    @family.stack("X-2", *ABOUT, covers=("kubernetes",), enforcement="advisory")
    def second(resources: Sequence[Res], env: str) -> Iterable[tuple[str, str]]:
        return ()

    assert [r.id for r in family] == ["X-1", "X-2"]
    assert [r.family for r in family] == ["demo", "demo"]
    assert (first.kind, first.covers, first.enforcement) == ("resource", ("aws", "gcp"), "mandatory")
    assert (second.kind, second.covers, second.enforcement) == ("stack", ("kubernetes",), "advisory")


def test_family_refuses_covers_stated_twice_or_not_at_all() -> None:
    family = Family("demo")
    with pytest.raises(ValueError, match="X-3: give covers exactly"):
        family.resource("X-3", *ABOUT, types=["aws:kms/key:Key"], covers=("aws",))(lambda r: ())
    with pytest.raises(ValueError, match="X-4: give covers exactly"):
        family.stack("X-4", *ABOUT)(lambda resources, env: ())
    with pytest.raises(ValueError, match="no platform for type tokens of \\['random'\\]"):
        family.resource("X-5", *ABOUT, types=["random:index/randomPassword:RandomPassword"])(lambda r: ())
    assert list(family) == []


def test_every_rule_of_the_pack_is_registered_once() -> None:
    ids = [r.id for r in FAMILY_RULES]
    assert len(ids) == len(set(ids))
