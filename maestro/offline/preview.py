"""`maestro preview STACK` (`make preview`): evaluate the program offline under mocks and print the resource tree
(type, name, parent) and the counts by type. No credentials, no Pulumi CLI, no cloud: what `pulumi preview` would
register."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from maestro.offline import mockrun


def render(resources: mockrun.RecordedResources) -> str:
    """The tree, then the counts by type, as plain text."""
    lines = [f"Stack {resources.stack}: {len(resources)} resources (offline evaluation under mocks)", ""]
    by_urn = resources.by_urn()
    for depth, r in mockrun.walk_tree(resources):
        parent = by_urn[r.parent].name if r.parent in by_urn else "(stack)"
        lines.append(f"{'  ' * depth}{r.type}  {r.name}  <- {parent}")
    lines += ["", "Counts by type:"]
    counts = Counter(r.type for r in resources)
    width = max(len(t) for t in counts)
    lines += [f"  {t.ljust(width)}  {n}" for t, n in sorted(counts.items())]
    lines += ["", "Outputs:"]
    for key, value in sorted(resources.outputs.items()):
        shown = "[secret]" if mockrun.is_secret(value) else value
        lines.append(f"  {key}: {shown}")
    return "\n".join(lines)


def preview(
    stack: Annotated[str, typer.Argument(help="Stack name: stacks/Pulumi.<stack>.yaml.")] = "dev-kind",
    stack_file: Annotated[Path | None, typer.Option(help="Use this stack file instead.")] = None,
) -> None:
    """A stack's resource tree and counts by type, evaluated offline under mocks (no Pulumi CLI, no cloud)."""
    try:
        resources = mockrun.evaluate_stack(stack, stack_file=stack_file)
    except FileNotFoundError as e:
        typer.echo(f"preview: {e}", err=True)
        raise typer.Exit(2) from None
    except ValueError as e:  # ConfigError names the key
        typer.echo(f"preview: invalid config for {stack}: {e}", err=True)
        raise typer.Exit(1) from None
    sys.stdout.write(render(resources) + "\n")
