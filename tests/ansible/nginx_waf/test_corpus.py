"""The attack corpora are blocked with 403 wherever a client can put them; legitimate API traffic passes unchanged."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.ansible.nginx_waf.corpus import LOCATIONS, attack_request, legitimate_requests, payloads
from tests.ansible.nginx_waf.edge import Edge

pytestmark = pytest.mark.servers


def test_corpora_are_large_enough() -> None:
    assert len(payloads("sqli")) >= 100
    assert len(payloads("xss")) >= 100
    assert len(legitimate_requests()) >= 100


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize("corpus", ["sqli", "xss"])
def test_attack_payloads_are_blocked(edge: Edge, corpus: str, location: str) -> None:
    not_blocked = []
    for index, payload in enumerate(payloads(corpus)):
        req = attack_request(payload, location, index)
        status, _, _ = edge.request(req.method, req.target(), body=req.body, headers=req.headers)
        if status != 403:
            not_blocked.append(f"{status} {req.name}: {payload}")
    assert not not_blocked, f"{len(not_blocked)} {corpus} payloads in {location} not blocked:\n" + "\n".join(
        not_blocked
    )


def test_legitimate_requests_pass_unchanged(edge: Edge) -> None:
    refused = []
    for req in legitimate_requests():
        status, _, body = edge.request(req.method, req.target(), body=req.body, headers=req.headers)
        if status != 200:
            refused.append(f"{status} {req.name}")
            continue
        if req.method == "HEAD":
            continue
        echoed = json.loads(body)
        sent = req.body or b""
        # The API must see what the client sent: same method, path and body bytes.
        if (echoed["method"], echoed["path"], echoed["body_sha256"]) != (
            req.method,
            req.target(),
            hashlib.sha256(sent).hexdigest(),
        ):
            refused.append(f"altered {req.name}: {echoed['method']} {echoed['path']} {echoed['body_length']} bytes")
    assert not refused, f"{len(refused)} legitimate requests refused or altered:\n" + "\n".join(refused)
