"""Fixtures shared by every part of the suite."""

from tests.servers import pg_database, pg_server, redis_server

__all__ = ["pg_database", "pg_server", "redis_server"]
