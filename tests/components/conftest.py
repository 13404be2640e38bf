"""Tests of the Pulumi program (components/ and __main__.py), under mocks, offline."""

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The Pulumi SDK gives each gRPC worker thread its own event loop and never closes it; the garbage collector
    # reports that at an arbitrary later test. It is the SDK's, not a defect of the test that happens to run.
    for item in items:
        if "tests/components/" in str(item.fspath):
            item.add_marker(pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"))
            # pulumi_aws warns about its own deprecated modules when imported; not about our code.
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_aws"))
