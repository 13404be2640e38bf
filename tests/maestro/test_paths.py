"""One way to find the repository root: `from maestro.paths import ROOT`.

No other tracked Python file climbs from its own `__file__` to the root (`parents[N]`, `.parent.parent`...), so moving
a file never silently changes what it reads. Climbing inside one's own package is fine (app/maestro_api/cli.py finds
app/, the policy pack finds policies/: both ship without the maestro package). So is the Ansible collection's lookup
plugin, which finds its collection's root (ansible/ in a checkout) and ships without the maestro package too.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from maestro.paths import ROOT

ALLOWED = {"maestro/paths.py", "tests/maestro/test_paths.py"}
"""The one module that knows where the root is, and this test (its fixtures spell out what the check catches)."""

CLIMB = re.compile(
    r"Path\(__file__\)(?:\.resolve\(\)|\.absolute\(\))?(?:\.parents\[(?P<index>\d+)\]|(?P<chain>(?:\.parent\b)+))"
)


def root_finders(root: Path, files: Iterable[str]) -> list[str]:
    """`path:line` of every climb from `__file__` that reaches the repository root (or above) in `files`."""
    found: list[str] = []
    for name in sorted(files):
        if name in ALLOWED:
            continue
        depth = len(Path(name).parts)  # how many `.parent` steps lead from the file to the root
        for number, line in enumerate((root / name).read_text(encoding="utf-8").splitlines(), start=1):
            for match in CLIMB.finditer(line):
                index = match["index"]
                levels = int(index) + 1 if index is not None else match["chain"].count(".parent")
                if levels >= depth:
                    found.append(f"{name}:{number}: use `from maestro.paths import ROOT`")
    return found


def test_maestro_paths_is_the_checkout_root() -> None:
    assert (ROOT / "pyproject.toml").is_file() and (ROOT / "maestro" / "paths.py").is_file()


def test_no_tracked_file_finds_the_root_by_itself() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    assert "maestro/paths.py" in tracked
    assert root_finders(ROOT, tracked) == []


def test_the_check_names_each_file_that_climbs_to_the_root(tmp_path: Path) -> None:
    tree = {
        "tests/policies/conftest.py": 'PACK = Path(__file__).resolve().parents[2] / "policies"\n',
        "dashboards/__main__.py": "import sys\n\nROOT = Path(__file__).resolve().parent.parent\n",
        "bench/deep/x.py": "HERE = Path(__file__).parent.parent.parent.parent\n",  # above the root
        "maestro/paths.py": "ROOT = Path(__file__).resolve().parent.parent\n",
        "app/maestro_api/cli.py": "APP_DIR = Path(__file__).resolve().parent.parent\n",  # its own package: app/
        "ansible/plugins/lookup/shared.py": "COLLECTION_ROOT = Path(__file__).resolve().parents[2]\n",
        "maestro/offline/mockrun.py": "self.parents[response.urn] = request.parent\n",
    }
    for name, text in tree.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert root_finders(tmp_path, tree) == [
        "bench/deep/x.py:1: use `from maestro.paths import ROOT`",
        "dashboards/__main__.py:3: use `from maestro.paths import ROOT`",
        "tests/policies/conftest.py:1: use `from maestro.paths import ROOT`",
    ]
