"""`python -m tests.components.golden [--write] [STACK ...]`: compare every shipped stack (or the ones named) with its
golden record, or rewrite the records on purpose with `--write` (`make golden`)."""

from __future__ import annotations

import argparse
import json
import sys

from maestro.offline import mockrun
from tests.components.golden import differences, golden_file, record, shipped_stacks, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.components.golden", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the golden files instead of comparing")
    parser.add_argument("stacks", nargs="*", help="stacks to record or compare (default: every shipped stack)")
    args = parser.parse_args(argv)
    stacks = args.stacks or shipped_stacks()
    unknown = sorted(set(stacks) - set(shipped_stacks()))
    if unknown:
        parser.error(f"no stack file stacks/Pulumi.{unknown[0]}.yaml")
    if args.write:
        for path in write(stacks):
            print(f"wrote {path}")
        return 0
    failed = 0
    for stack in stacks:
        found = differences(json.loads(golden_file(stack).read_text()), record(mockrun.evaluate_stack(stack)))
        print(f"{stack}: {'differs' if found else 'unchanged'}")
        for line in found:
            print(line)
        failed += bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
