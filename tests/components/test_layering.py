"""The import layering of components/ (docs/architecture.md), read from the source with `ast`:

- config is a leaf: it imports nothing else of components/, and no Pulumi SDK (it is values only);
- the workloads reach no Foundation and no cloud SDK, even indirectly: of foundations/ only the contract;
- a target's folder imports no other target's;
- nothing imports components/platform.py (the top), and no module imports itself through others (no cycles).

Importing a submodule runs its parent packages' `__init__` too, so "indirectly" follows those as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from maestro.paths import ROOT

CLOUD_SDKS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native", "pulumi_azure", "boto3", "google.cloud", "azure")
TARGETS = ("aws", "gcp", "azure", "kubernetes")

Graph = dict[str, set[str]]


def import_graph(root: Path, package: str = "components") -> Graph:
    """Every module of `package` under `root` -> the modules it imports (anywhere in its body, lazy imports too):
    `from a import b` names `a.b` when that is a module of the package, else `a`."""
    files = {_module(path, root, package): path for path in sorted((root / package).rglob("*.py"))}
    graph: Graph = {}
    for module, path in files.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, module, is_package=path.name == "__init__.py")
                for alias in node.names:
                    imported.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base)
        graph[module] = imported - {module}
    return graph


def _module(path: Path, root: Path, package: str) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or package


def _absolute(node: ast.ImportFrom, module: str, *, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _parents(module: str) -> Iterator[str]:
    parts = module.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


def reached(graph: Mapping[str, set[str]], start: str) -> set[str]:
    """Every module `start` loads: what it imports, their parent packages, and so on."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        for name in graph.get(current, set()) | set(_parents(current)):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen - {start}


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the modules along it (first module repeated at the end)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for name in sorted(graph.get(module, set())):
            if name not in graph:
                continue
            if state.get(name) == 1:
                found.append([*path[path.index(name) :], name])
            elif name not in state:
                visit(name, [*path, name])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def violations(graph: Mapping[str, set[str]]) -> list[str]:
    """Every broken rule, one line each; empty for a well-layered tree."""
    found: list[str] = []
    for module, imported in sorted(graph.items()):
        if _within(module, "components.config"):
            for name in sorted(imported):
                if _within(name, "components") and not _within(name, "components.config"):
                    found.append(f"{module} imports {name}: config is a leaf")
                if name.split(".")[0].startswith("pulumi"):
                    found.append(f"{module} imports {name}: config holds values only")
        if _within(module, "components.workloads"):
            for name in sorted(reached(graph, module)):
                if _within(name, "components.foundations") and name not in (
                    "components.foundations",
                    "components.foundations.contract",
                ):
                    found.append(f"{module} reaches {name}: workloads take only the Foundation's contract")
                if _within(name, *CLOUD_SDKS):
                    found.append(f"{module} reaches {name}: workloads use no cloud SDK")
        for target in TARGETS:
            if _within(module, f"components.foundations.{target}"):
                others = [f"components.foundations.{t}" for t in TARGETS if t != target]
                found += [
                    f"{module} imports {name}: targets are independent"
                    for name in sorted(imported)
                    if _within(name, *others)
                ]
        if "components.platform" in imported:
            found.append(f"{module} imports components.platform: the platform is the top layer")
    found += ["import cycle: " + " -> ".join(cycle) for cycle in cycles(graph)]
    return found


def test_components_are_layered() -> None:
    graph = import_graph(ROOT)
    assert {"components.config.stack", "components.workloads.postgres", "components.foundations.table"} <= set(graph)
    assert violations(graph) == []


def test_the_workloads_reach_the_contract_and_the_config_only() -> None:
    graph = import_graph(ROOT)
    reach = {n for n in reached(graph, "components.workloads.postgres") if _within(n, "components")}
    assert "components.foundations.contract" in reach and "components.config.stack" in reach
    assert not {n for n in reach if _within(n, "components.foundations")} - {
        "components.foundations",
        "components.foundations.contract",
    }


BAD_TREE = {
    "components/__init__.py": "",
    "components/config/__init__.py": "from components.config.base import Model\n",
    "components/config/base.py": "import pulumi\nfrom components.workloads.api import API\nModel = object\n",
    "components/foundations/__init__.py": "from components.foundations import table\n",
    "components/foundations/contract.py": "",
    "components/foundations/table.py": "from components.foundations.aws import build\n",
    "components/foundations/aws/__init__.py": "from .foundation import build\n",
    "components/foundations/aws/foundation.py": "import pulumi_aws\nfrom ..gcp import net\n\ndef build(): ...\n",
    "components/foundations/gcp/__init__.py": "",
    "components/foundations/gcp/net.py": "",
    "components/workloads/__init__.py": "",
    "components/workloads/api.py": "from components.foundations.contract import X\nAPI = 1\n",
    "components/workloads/images.py": "def f():\n    from pulumi_gcp import storage\n",
    "components/workloads/a.py": "from . import b\n",
    "components/workloads/b.py": "from components.workloads import a\nimport components.platform\n",
    "components/platform.py": "",
}


def test_the_checks_catch_each_broken_rule(tmp_path: Path) -> None:
    for name, text in BAD_TREE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert graph["components.foundations.aws"] == {"components.foundations.aws.foundation"}  # a relative import
    found = violations(graph)
    assert "components.config.base imports components.workloads.api: config is a leaf" in found
    assert "components.config.base imports pulumi: config holds values only" in found
    # api.py imports only the contract, but the contract's package index loads the table and so AWS and its SDK.
    assert (
        "components.workloads.api reaches components.foundations.aws: workloads take only the Foundation's contract"
        in found
    )
    assert "components.workloads.api reaches pulumi_aws: workloads use no cloud SDK" in found
    assert "components.workloads.images reaches pulumi_gcp: workloads use no cloud SDK" in found
    assert (
        "components.foundations.aws.foundation imports components.foundations.gcp.net: targets are independent" in found
    )
    assert "components.workloads.b imports components.platform: the platform is the top layer" in found
    assert [f for f in found if f.startswith("import cycle")] == [
        "import cycle: components.workloads.a -> components.workloads.b -> components.workloads.a"
    ]


@pytest.mark.parametrize(
    ("module", "text", "expected"),
    [
        ("components/x/__init__.py", "from . import y\n", {"components.x.y"}),
        ("components/x/z.py", "from .y import f\n", {"components.x.y"}),
        ("components/x/z.py", "from .. import x\n", {"components.x"}),
        ("components/x/z.py", "import os, components.x.y\n", {"os", "components.x.y"}),
    ],
)
def test_relative_and_absolute_imports_resolve_to_modules(
    tmp_path: Path, module: str, text: str, expected: set[str]
) -> None:
    for name in ("components/__init__.py", "components/x/__init__.py", "components/x/y.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    (tmp_path / module).write_text(text)
    graph = import_graph(tmp_path)
    name = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert graph[name] == expected
