"""The shared real-server fixtures work: PostgreSQL accepts SCRAM logins and Redis answers."""

import psycopg
import pytest
import redis

from tests.servers import PgServer

pytestmark = pytest.mark.servers


def test_postgres_fixture_gives_each_test_its_own_database(pg_server: PgServer, pg_database: str) -> None:
    url = pg_server.url(pg_database).replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        assert conn.execute("select current_database()").fetchone() == (pg_database,)
        assert conn.execute("show server_version_num").fetchone()[0].startswith("15")
        assert conn.execute("show data_checksums").fetchone() == ("on",)


def test_postgres_refuses_a_wrong_password(pg_server: PgServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host=pg_server.host, port=pg_server.port, user="postgres", password="wrong", dbname="postgres")


def test_redis_fixture_answers(redis_server) -> None:  # type: ignore[no-untyped-def]
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    assert client.ping() is True
    client.set("k", "v")
    assert client.get("k") == b"v"
