"""Every shipped stack still registers exactly its golden record (tests/components/golden/): same URNs, types,
parents, providers, dependencies, options and inputs, so a refactoring of components/ replaces nothing.

An intended change is recorded on purpose with `make golden` and reviewed in the JSON diff."""

from __future__ import annotations

import copy
import json

import pytest

from maestro.offline import mockrun
from tests.components.golden import (
    GOLDEN_DIR,
    SECRET,
    differences,
    dumps,
    golden_file,
    record,
    shipped_stacks,
)
from tests.components.stacks import evaluated

pytestmark = pytest.mark.stacks


@pytest.mark.parametrize("stack", shipped_stacks())
def test_the_stack_registers_exactly_its_golden_record(stack: str) -> None:
    text = golden_file(stack).read_text()
    expected = json.loads(text)
    assert text == dumps(expected), f"{golden_file(stack)} is not in its canonical form: rewrite it with make golden"
    found = differences(expected, record(evaluated(stack)))
    assert not found, f"{stack} differs from {golden_file(stack)} (if intended: make golden)\n" + "\n".join(found)


def test_every_shipped_stack_has_a_golden_record_and_nothing_else_does() -> None:
    assert sorted(p.stem for p in GOLDEN_DIR.glob("*.json")) == shipped_stacks()
    assert {"dev-kind", "dev-aws", "prod-aws", "dev-gcp", "prod-gcp", "dev-azure", "prod-azure"} <= set(
        shipped_stacks()
    )


def test_the_record_is_deterministic_and_masks_every_secret() -> None:
    first = record(evaluated("dev-kind"))
    again = record(mockrun.evaluate_stack("dev-kind"))
    assert dumps(first) == dumps(again)
    text = dumps(first)
    assert SECRET in text and "M0ck" not in text  # the mocks' generated passwords
    assert str(mockrun.ROOT) not in text


def test_differences_name_each_gone_new_and_changed_resource() -> None:
    base = {
        "stack": "x",
        "outputs": {"apiUrl": "http://a"},
        "resources": [
            {"urn": "urn:a", "type": "t", "inputs": {"size": 1}},
            {"urn": "urn:b", "type": "t", "inputs": {}},
        ],
    }
    assert differences(base, copy.deepcopy(base)) == []
    now = copy.deepcopy(base)
    now["resources"][0]["inputs"]["size"] = 2
    now["resources"][1]["urn"] = "urn:c"
    now["outputs"]["apiUrl"] = "http://b"
    found = differences(base, now)
    assert found[:2] == ["gone: urn:b", "new:  urn:c"]
    assert found[2].startswith("changed: urn:a\n") and '-    "size": 1' in found[2] and '+    "size": 2' in found[2]
    assert found[3].startswith("changed: stack outputs\n") and '+  "apiUrl": "http://b"' in found[3]
    many = copy.deepcopy(base)
    many["resources"] = [{"urn": f"urn:{i}", "inputs": {"v": i}} for i in range(8)]
    changed = copy.deepcopy(many)
    for r in changed["resources"]:
        r["inputs"]["v"] += 1
    assert differences(many, changed, most=3)[-1] == "... and 5 more changed resources"
