"""The WAF corpora (corpus/ beside this file) as Python values, and how each entry becomes an HTTP request."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).resolve().parent / "corpus"
# What scripted API clients send; the PL2 rules about such clients are excluded on purpose (docs/waf.md).
CLIENT_HEADERS = {"User-Agent": "python-requests/2.32.3", "Accept": "application/json"}


def payloads(name: str) -> list[str]:
    """Payloads of corpus/<name>.txt: one per line, '#' comments and blank lines skipped."""
    lines = (CORPUS / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@dataclass
class ApiRequest:
    name: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def target(self) -> str:
        return self.path


def _log_batch_at_limits() -> dict[str, Any]:
    """An MLflow log-batch at its documented limits: 1,000 metrics, 100 params, 100 tags (~4,400 JSON leaves)."""
    ts = 1795852800000
    return {
        "run_id": "abc123def456",
        "metrics": [
            {"key": f"loss_{i % 10}", "value": 1.0 / (i + 1), "timestamp": ts + i, "step": i} for i in range(1000)
        ],
        "params": [{"key": f"param_{i}", "value": f"value '{i}' from the grid"} for i in range(100)],
        "tags": [{"key": f"tag_{i}", "value": f"select {i}; order by {i}"} for i in range(100)],
    }


GENERATORS = {"log_batch": _log_batch_at_limits}


def legitimate_requests() -> list[ApiRequest]:
    entries = yaml.safe_load((CORPUS / "legitimate.yaml").read_text(encoding="utf-8"))["requests"]
    requests = []
    for entry in entries:
        path = entry["path"]
        if "query" in entry:
            path += "?" + urllib.parse.urlencode(entry["query"], quote_via=urllib.parse.quote)
        headers = {**CLIENT_HEADERS, **{k: str(v) for k, v in entry.get("headers", {}).items()}}
        body: bytes | None = None
        if "generate" in entry:
            entry = {**entry, "json": GENERATORS[entry["generate"]]()}
        if "json" in entry:
            body = json.dumps(entry["json"], ensure_ascii=False).encode()
            headers.setdefault("Content-Type", entry.get("content_type", "application/json"))
        elif "body" in entry:
            body = entry["body"].encode()
            if "content_type" in entry:
                headers["Content-Type"] = entry["content_type"]
        # An empty value in the corpus means "do not send this header at all".
        headers = {k: v for k, v in headers.items() if v != ""}
        requests.append(ApiRequest(entry["name"], entry["method"], path, body, headers))
    return requests


# Where an attack payload travels. CRS inspects arguments (query and parsed bodies), cookies, User-Agent and Referer;
# those are the places a payload reaches the API's code or logs.
LOCATIONS = ("query", "json", "header")
# JSON bodies rotate through the API's verbs and media types, so +json bodies are shown to be parsed too.
_JSON_VARIANTS = (
    ("POST", "/v1/models", "application/json"),
    ("PATCH", "/v1/models/churn-predictor", "application/merge-patch+json"),
    ("PUT", "/v1/models/churn-predictor/incidents/1", "application/problem+json"),
    ("POST", "/mlflow/api/2.0/mlflow/registered-models/create", "application/json; charset=utf-8"),
)
_HEADERS = ("User-Agent", "Referer", "Cookie")


def attack_request(payload: str, location: str, index: int) -> ApiRequest:
    """The payload placed where a client controls input: a query parameter, a JSON field or a header."""
    if location == "query":
        query = urllib.parse.urlencode({"q": payload}, quote_via=urllib.parse.quote)
        return ApiRequest(f"query #{index}", "GET", f"/v1/models?{query}", None, dict(CLIENT_HEADERS))
    if location == "json":
        method, path, content_type = _JSON_VARIANTS[index % len(_JSON_VARIANTS)]
        # Alternate a free-text field (relaxed at paranoia level 2, docs/waf.md) and a strict one.
        field = "description" if index % 2 == 0 else "name"
        body = json.dumps({"name": "churn-predictor", "description": "Churn model.", field: payload}).encode()
        return ApiRequest(f"json #{index}", method, path, body, {**CLIENT_HEADERS, "Content-Type": content_type})
    if location == "header":
        name = _HEADERS[index % len(_HEADERS)]
        value = f"session={payload}" if name == "Cookie" else payload
        return ApiRequest(f"header {name} #{index}", "GET", "/v1/models", None, {**CLIENT_HEADERS, name: value})
    raise ValueError(f"unknown location {location!r}; expected one of {LOCATIONS}")
