"""Generated files are what the generator writes (no drift) and nothing else lives among them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.__main__ import main
from maestro.paths import ROOT


def test_checked_in_files_match_the_generator(generated: dict[str, str]) -> None:
    drift = [p for p, text in generated.items() if not (ROOT / p).exists() or (ROOT / p).read_text() != text]
    assert drift == [], f"run `make dashboards`; out of date: {drift}"


def test_no_stray_files_in_generated_directories(generated: dict[str, str]) -> None:
    for folder, pattern in [
        ("dashboards/rules", "*.yml"),
        ("dashboards/tests", "*.yml"),
        ("dashboards/generated", "*.json"),
        ("runbooks/alerts", "*.md"),
    ]:
        on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / folder).glob(pattern)}
        assert on_disk - set(generated) == set(), f"files in {folder} that no rule or board generates"


def test_check_mode_reports_drift_and_passes_when_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generated: dict[str, str]
) -> None:
    import dashboards.__main__ as cli

    monkeypatch.setattr(cli, "generate_all", lambda: generated)
    assert main(["--check"]) == 0
    # Same check against an empty tree: everything is missing, so --check fails and writes nothing.
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    assert main(["--check"]) == 1
    assert list(tmp_path.iterdir()) == []
    # Without --check the files are written, and a second check is clean.
    assert main([]) == 0
    assert main(["--check"]) == 0
    assert (tmp_path / "dashboards/generated/maestro-api.json").read_text() == generated[
        "dashboards/generated/maestro-api.json"
    ]
