"""Fixtures shared by every part of the suite.

Markers are explicit: a module that evaluates whole Pulumi stacks under mocks (tests/components/, the policy pack
over the shipped and insecure stacks) sets `pytestmark = pytest.mark.stacks` itself. Those import the provider SDKs
and run the program: seconds each, minutes together, so `make test-fast` leaves them to `make test-stacks`.
"""

from tests.servers import pg_database, pg_server, redis_server

__all__ = ["pg_database", "pg_server", "redis_server"]
