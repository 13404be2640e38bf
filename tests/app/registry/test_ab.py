"""A/B routing: deterministic per key, weights validated, distribution within 1% of the weights."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from maestro_api.registry.ab import BUCKETS, Variant, bucket, choose, validate_weights


@st.composite
def weight_lists(draw: st.DrawFn) -> list[int]:
    """1..5 non-negative integers summing to 100."""
    n = draw(st.integers(min_value=1, max_value=5))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=100), min_size=n - 1, max_size=n - 1)))
    bounds = [0, *cuts, 100]
    return [bounds[i + 1] - bounds[i] for i in range(n)]


@given(weights=weight_lists(), key=st.text(max_size=64), deployment=st.uuids())
def test_routing_is_deterministic_and_never_picks_a_zero_weight_variant(
    weights: list[int], key: str, deployment: object
) -> None:
    variants = [Variant(name=f"v{i}", weight=w) for i, w in enumerate(weights)]
    first = choose(str(deployment), key, variants)
    assert choose(str(deployment), key, variants) == first
    assert first.weight > 0


@given(key=st.text(max_size=64), deployment=st.text(max_size=40))
def test_bucket_is_in_range(key: str, deployment: str) -> None:
    assert 0 <= bucket(deployment, key) < BUCKETS


@pytest.mark.parametrize("weights", [[50, 50], [70, 20, 9, 1]])
def test_distribution_matches_weights_within_one_percent_over_100k_keys(weights: list[int]) -> None:
    variants = [Variant(name=f"v{i}", weight=w) for i, w in enumerate(weights)]
    counts = Counter(choose("dep-1", f"user-{i}", variants).name for i in range(100_000))
    for v in variants:
        share = counts[v.name] / 100_000 * 100
        assert abs(share - v.weight) <= 1.0, (v, share)


def test_same_key_routes_independently_in_two_deployments() -> None:
    variants = [Variant("a", 50), Variant("b", 50)]
    picks_1 = [choose("dep-1", str(i), variants).name for i in range(2_000)]
    picks_2 = [choose("dep-2", str(i), variants).name for i in range(2_000)]
    assert picks_1 != picks_2


def test_changing_weights_moves_only_keys_whose_bucket_changes_owner() -> None:
    before = [Variant("a", 90), Variant("b", 10)]
    after = [Variant("a", 80), Variant("b", 20)]
    moved = sum(choose("d", str(i), before).name != choose("d", str(i), after).name for i in range(20_000))
    assert 0.08 * 20_000 < moved < 0.12 * 20_000  # about the 10% that changed owner, no reshuffle


@pytest.mark.parametrize(
    ("weights", "message"),
    [([], "at least one"), ([50, 40], "sum to 100"), ([101, -1], "between 0 and 100"), ([50.0, 50], "integers")],
)
def test_invalid_weights_are_refused(weights: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_weights(weights)


def test_valid_weights_are_accepted() -> None:
    validate_weights([100])
    validate_weights([0, 100])
    validate_weights([33, 33, 34])
