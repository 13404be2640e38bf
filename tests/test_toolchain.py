"""The toolchain itself: the locked environment holds the packages the rest of the suite relies on."""

from importlib.metadata import version


def test_pinned_mlflow_matches_the_measured_baseline() -> None:
    # docs/architecture.md's MLflow measurements were taken on 3.17.2; a silent upgrade would invalidate them.
    assert version("mlflow") == "3.17.2"


def test_workspace_packages_are_installed() -> None:
    assert version("maestro-api") == "0.1.0"
    assert version("maestro") == "0.1.0"
