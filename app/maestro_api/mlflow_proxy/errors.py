"""MLflow's error shape: the stock client reads ``error_code`` and ``message``, not problem+json.

Every refusal under ``/mlflow`` (authentication, RBAC, rate limit, bad input, MLflow's own errors) answers
``{"error_code": "<MLflow code>", "message": "..."}`` with the status MLflow itself would use, so the client
raises its usual ``MlflowException`` / ``RestException`` with a readable code.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.responses import Response

from maestro_api.core.errors import ProblemError

# The status -> code table for refusals that Maestro makes itself (MLflow's own answers keep their code).
_CODES: dict[int, str] = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS",
    413: "RESOURCE_EXHAUSTED",
    422: "INVALID_PARAMETER_VALUE",
    429: "REQUEST_LIMIT_EXCEEDED",
    503: "TEMPORARILY_UNAVAILABLE",
}


class MlflowApiError(ProblemError):
    """A refusal in MLflow's shape. It is a ``ProblemError``, so the core's audit of failed mutations sees it.

    Args:
        status: HTTP status.
        error_code: MLflow's error code (``RESOURCE_DOES_NOT_EXIST``, ``INVALID_PARAMETER_VALUE``, ...).
        message: the message shown to the client; must not name another tenant or an internal host.
    """

    def __init__(self, status: int, error_code: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status, error_code, message, headers=headers)
        self.error_code = error_code


def code_for(status: int) -> str:
    return _CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")


def mlflow_error_response(exc: ProblemError) -> Response:
    """Render any ``ProblemError`` raised under ``/mlflow`` (by the core's dependencies too) in MLflow's shape."""
    if isinstance(exc, MlflowApiError):
        code, message, status = exc.error_code, exc.detail or exc.error_code, exc.status
    else:
        # Validation problems answer 422 in the API; MLflow says 400 INVALID_PARAMETER_VALUE.
        status = 400 if exc.status == 422 else exc.status
        code, message = code_for(exc.status), exc.detail or exc.title
    body = orjson.dumps({"error_code": code, "message": message})
    return Response(content=body, status_code=status, headers=exc.headers, media_type="application/json")
