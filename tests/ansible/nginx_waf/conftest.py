"""Fixtures for the WAF tests: the echo upstream and one nginx running the nginx_waf role's rendered files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ansible.nginx_waf.edge import Edge, echo_upstream, missing_prerequisites, running_edge


@pytest.fixture(scope="session")
def waf_upstream() -> Iterator[int]:
    with echo_upstream() as port:
        yield port


@pytest.fixture(scope="session")
def edge(waf_upstream: int) -> Iterator[Edge]:
    missing = missing_prerequisites()
    if missing:
        pytest.fail(f"the WAF tests need {', '.join(missing)}: run `make bootstrap-test`")
    with running_edge(waf_upstream) as running:
        yield running
