"""The `maestro.platform.shared` lookup: where a file Maestro shares between its engines is.

Both engines read the same files, never copies: the port map and the network matrix (config/ports.yaml,
config/network.yaml and its validator config/network.py), the alert rules, the Alertmanager configuration and the
dashboards (dashboards/). In a checkout the roles read them at the repository root, beside ansible/; a built
collection carries them under shared/, where `make collection` packs them from that one source.

    lookup('maestro.platform.shared', 'config/ports.yaml')   ->  the absolute path of that file or directory
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from ansible.errors import AnsibleLookupError

from ansible.plugins.lookup import LookupBase

DOCUMENTATION = """
name: shared
short_description: The path of a file Maestro shares between its engines (port map, network matrix, rules)
description:
  - Returns the absolute path of a file or directory named relative to the repository root (config/ports.yaml,
    dashboards/rules, ...), read from the collection's shared/ directory, or in a checkout from the repository.
options:
  _terms:
    description: Paths relative to the repository root.
    required: true
"""

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
ROOTS = (COLLECTION_ROOT / "shared", COLLECTION_ROOT.parent)
"""Where shared files are looked for, in order: a built collection's shared/, then the checkout's root."""


def shared_path(name: str) -> Path:
    """The path of the shared file `name` (relative, inside the tree); AnsibleLookupError names what is missing."""
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise AnsibleLookupError(f"maestro.platform.shared: {name!r} must be a relative path inside the tree")
    for root in ROOTS:
        if (root / relative).exists():
            return root / relative
    raise AnsibleLookupError(
        f"maestro.platform.shared: {name} is in neither {ROOTS[0]} (a built collection) nor {ROOTS[1]} (a checkout)"
    )


class LookupModule(LookupBase):
    """Ansible's entry point for lookup plugins."""

    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        return [str(shared_path(str(term))) for term in terms]
