"""MLflow's refusals, as Maestro answers them: the one table both paths use (``/v1`` and the ``/mlflow`` proxy).

No text of MLflow ever reaches a client: its messages can carry database errors, internal paths or host names.
An MLflow error is classified by its ``error_code`` (and its HTTP status where it has none) into a fixed sentence
and a status; ``/v1`` answers it as problem+json, ``/mlflow`` in MLflow's shape with MLflow's code kept (the stock
client's control flow reads the code, e.g. ``RESOURCE_ALREADY_EXISTS`` in ``register_model``).

==============================================  =====  ================================================
MLflow answer                                   ours   sentence
==============================================  =====  ================================================
RESOURCE_DOES_NOT_EXIST, or 404                 404    No such object in this tenant.
RESOURCE_ALREADY_EXISTS                         409    An object of that name already exists ...
INVALID_STATE                                   409    The object is not in a state that allows ...
INVALID_PARAMETER_VALUE, BAD_REQUEST, other 4xx 422    The model registry refused a value ...
401 or 403 (MLflow refused the API's token)     502    The model registry refused the API's credential.
5xx                                             502    The model registry failed to answer this request.
==============================================  =====  ================================================

``OVERRIDES`` refine a code for one MLflow endpoint: MLflow answers a missing alias with
``INVALID_PARAMETER_VALUE``, which is a 404 here (alias names are validated before MLflow sees them on ``/v1``).
The ``/mlflow`` proxy answers 400 where ``/v1`` answers 422 (MLflow's own status for a bad value).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from maestro_api.metrics import MLFLOW_ERRORS

log = logging.getLogger("maestro_api.registry.refusals")


@dataclass(frozen=True)
class Refusal:
    """What Maestro answers for one kind of MLflow refusal.

    Args:
        status: the HTTP status of the answer.
        code: the MLflow error code the ``/mlflow`` proxy answers (the stock client reads it).
        title: the problem's title on ``/v1``.
        detail: the fixed sentence shown to the client.
        kind: the ``kind`` label of ``maestro_mlflow_errors_total`` (None: not a fault of MLflow's, e.g. a 404).
    """

    status: int
    code: str
    title: str
    detail: str
    kind: str | None = "bad_request"


NOT_FOUND = Refusal(404, "RESOURCE_DOES_NOT_EXIST", "Not found", "No such object in this tenant.", kind=None)
ALIAS_NOT_FOUND = Refusal(404, "RESOURCE_DOES_NOT_EXIST", "Not found", "No such alias of this model.", kind=None)
EXISTS = Refusal(409, "RESOURCE_ALREADY_EXISTS", "Conflict", "An object of that name already exists in this tenant.")
STATE = Refusal(409, "INVALID_STATE", "Conflict", "The object is not in a state that allows this change.")
INVALID = Refusal(
    422, "INVALID_PARAMETER_VALUE", "Unprocessable Content", "The model registry refused a value of this request."
)
REFUSED = Refusal(422, "BAD_REQUEST", "Unprocessable Content", "The model registry refused the request.")
_GATEWAY = (502, "INTERNAL_ERROR", "Bad gateway")
FAILED = Refusal(*_GATEWAY, "The model registry failed to answer this request.", kind="upstream_5xx")
UNREADABLE = Refusal(*_GATEWAY, "The model registry sent an unreadable answer.", kind="upstream_5xx")
CREDENTIAL = Refusal(*_GATEWAY, "The model registry refused the API's credential.", kind="unauthorized")

BY_CODE: dict[str, Refusal] = {
    "RESOURCE_DOES_NOT_EXIST": NOT_FOUND,
    "RESOURCE_ALREADY_EXISTS": EXISTS,
    "INVALID_STATE": STATE,
    "INVALID_PARAMETER_VALUE": INVALID,
    "BAD_REQUEST": INVALID,
    "MALFORMED_REQUEST": INVALID,
}
"""MLflow's error codes that Maestro answers as themselves (a fixed sentence, never MLflow's message)."""

OVERRIDES: dict[tuple[str, str], Refusal] = {
    ("GET registered-models/alias", "INVALID_PARAMETER_VALUE"): ALIAS_NOT_FOUND,
}
"""``(endpoint, code)`` -> the answer where an MLflow endpoint uses a code for something else (``endpoint`` is
``"<METHOD> <path below /api/2.0/mlflow/>"``, as the proxy's route names and the registry's operations spell it)."""


def classify(status: int, payload: Any, *, endpoint: str) -> Refusal:
    """The answer for MLflow's error ``payload`` (its decoded JSON body, or None) with HTTP ``status``.

    Counts it in ``maestro_mlflow_errors_total``; a refused credential is also logged (without any secret: only
    the status and the endpoint), since it means the API's ``mlflow_token`` and MLflow's disagree.
    """
    code = str(payload.get("error_code", "")) if isinstance(payload, Mapping) else ""
    if status in (401, 403):
        log.error("MLflow refused the API's credential (HTTP %d on %s): check MAESTRO_MLFLOW_TOKEN", status, endpoint)
        refusal = CREDENTIAL
    elif code in BY_CODE:
        refusal = OVERRIDES.get((endpoint, code), BY_CODE[code])
    elif status == 404:
        refusal = NOT_FOUND
    elif status >= 500:
        refusal = FAILED
    else:
        refusal = REFUSED
    if refusal.kind is not None:
        MLFLOW_ERRORS.labels(kind=refusal.kind).inc()
    return refusal
