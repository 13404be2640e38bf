"""The golden record of every shipped stack: what the engine would receive for each resource, under mocks.

One JSON file per stack (`<stack>.json` beside this module) holds, for every resource sorted by URN, its URN, type,
parent, provider, dependencies, property dependencies, resource options and inputs, plus the stack outputs. A
refactoring of components/ that leaves every file unchanged replaces, renames and reparents nothing on `pulumi up`.

The record is deterministic: secrets are the fixed marker `SECRET` (never their plaintext), dependency lists are
sorted, keys are sorted, and the checkout's absolute path (the image build contexts) is written as `ROOT_MARKER`.
`python -m tests.components.golden --write` (`make golden`) rewrites the files on purpose.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from maestro.offline import mockrun

GOLDEN_DIR = Path(__file__).resolve().parent
SECRET = "[secret]"
ROOT_MARKER = "<repository root>"


def shipped_stacks() -> list[str]:
    """Every stack with a file in stacks/ (`Pulumi.<stack>.yaml`), sorted."""
    return sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in (mockrun.ROOT / "stacks").glob("*.yaml")
    )


def golden_file(stack: str) -> Path:
    return GOLDEN_DIR / f"{stack}.json"


def _normal(value: Any) -> Any:
    """`value` with secrets masked and the checkout's path replaced, recursively."""
    if mockrun.is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        return value.replace(str(mockrun.ROOT), ROOT_MARKER)
    return value


def record(resources: mockrun.RecordedResources) -> dict[str, Any]:
    """The golden record of one evaluated stack."""
    return {
        "stack": resources.stack,
        "outputs": _normal(resources.outputs),
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "custom": r.custom,
                "parent": r.parent,
                "provider": r.provider,
                "dependencies": sorted(r.dependencies),
                "propertyDependencies": {k: sorted(v) for k, v in r.property_dependencies.items()},
                "options": _normal(r.options),
                "inputs": _normal(r.inputs),
            }
            for r in sorted(resources, key=lambda r: r.urn)
        ],
    }


def dumps(golden: dict[str, Any]) -> str:
    """The file's text: sorted keys, two-space indentation, one trailing newline."""
    return json.dumps(golden, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def differences(expected: dict[str, Any], actual: dict[str, Any], *, most: int = 5) -> list[str]:
    """Readable differences between two records: URNs gone and new, then a unified diff of up to `most` changed
    resources (and of the outputs); empty when the records are equal."""
    want = {r["urn"]: r for r in expected["resources"]}
    got = {r["urn"]: r for r in actual["resources"]}
    found: list[str] = []
    found += [f"gone: {urn}" for urn in sorted(set(want) - set(got))]
    found += [f"new:  {urn}" for urn in sorted(set(got) - set(want))]
    changed = [urn for urn in sorted(set(want) & set(got)) if want[urn] != got[urn]]
    for urn in changed[:most]:
        found.append(f"changed: {urn}\n" + _diff(want[urn], got[urn]))
    if len(changed) > most:
        found.append(f"... and {len(changed) - most} more changed resources")
    if expected["outputs"] != actual["outputs"]:
        found.append("changed: stack outputs\n" + _diff(expected["outputs"], actual["outputs"]))
    return found


def _diff(a: Any, b: Any) -> str:
    lines = difflib.unified_diff(dumps(a).splitlines(), dumps(b).splitlines(), "golden", "now", n=2, lineterm="")
    return "\n".join(lines)


def write(stacks: Iterable[str]) -> list[Path]:
    """Evaluate each stack and (re)write its golden file; returns the files written."""
    written = []
    for stack in stacks:
        path = golden_file(stack)
        path.write_text(dumps(record(mockrun.evaluate_stack(stack))))
        written.append(path)
    return written
