"""`python -m dashboards` writes every generated file; `--check` fails (exit 1) if any is missing or differs."""

from __future__ import annotations

import argparse
import sys

from dashboards.generate import generate_all
from maestro.paths import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report drift; write nothing")
    args = parser.parse_args(argv)
    files = generate_all()
    drift = []
    for rel, text in sorted(files.items()):
        path = ROOT / rel
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        drift.append(rel)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and drift:
        print("generated files out of date (run `make dashboards`):", *drift, sep="\n  ", file=sys.stderr)
        return 1
    verb = "would change" if args.check else "wrote"
    print(f"dashboards: {len(files)} generated files, {verb} {len(drift)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
