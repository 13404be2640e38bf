"""Fixtures shared by every part of the suite, and the `stacks` marker.

Tests that evaluate whole Pulumi stacks under mocks (tests/unit/, the policy pack over the shipped and insecure
stacks) import the provider SDKs and run the program: seconds each, minutes together. They are marked `stacks`
so `make test-fast` stays a unit-test run; `make test` runs them through `make test-stacks`.
"""

from pathlib import Path

import pytest

from tests.servers import pg_database, pg_server, redis_server

__all__ = ["pg_database", "pg_server", "redis_server"]

_TESTS = Path(__file__).parent
_STACK_TESTS = (_TESTS / "unit", _TESTS / "policies" / "test_stacks.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        if any(path == p or p in path.parents for p in _STACK_TESTS):
            item.add_marker(pytest.mark.stacks)
