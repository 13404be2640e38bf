"""What a data scientist does with the stock client, as one function per tenant (used by several tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

BATCH_POINTS = 1200


class AddN(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """A tiny pyfunc model: adds ``n`` to its input."""

    def __init__(self, n: int) -> None:
        self.n = n

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return [v + self.n for v in model_input]


@dataclass(frozen=True)
class Logged:
    experiment_name: str
    experiment_id: str
    run_id: str
    artifact_uri: str
    model_name: str
    version: str
    page_token: str | None


def log_everything(tmp: Path, *, experiment_name: str, model_name: str, n: int) -> Logged:
    """Experiment, run, params, metrics (a batch of BATCH_POINTS), an artifact directory, a pyfunc model,
    registered, aliased ``champion``, loaded back by alias."""
    client = MlflowClient()
    experiment_id = mlflow.create_experiment(experiment_name)
    art = tmp / f"art-{n}"
    (art / "sub").mkdir(parents=True)
    (art / "readme.txt").write_text(f"tenant payload {n}\n")
    (art / "sub" / "data.csv").write_text("a,b\n1,2\n")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        run_id = run.info.run_id
        mlflow.log_params({"alpha": "0.5", "n": str(n)})
        mlflow.log_metric("loss", 0.25)
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric("curve", i / 10, now, i) for i in range(BATCH_POINTS)])
        mlflow.log_artifacts(str(art), artifact_path="inputs")
        info = mlflow.pyfunc.log_model(name="model", python_model=AddN(n), pip_requirements=["mlflow"])
    # A second run, so a search page of one has a next page token.
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.log_metric("loss", 0.5)
    version = mlflow.register_model(info.model_uri, model_name)
    client.set_registered_model_alias(model_name, "champion", version.version)
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    assert list(loaded.predict([1, 2])) == [1 + n, 2 + n]
    page = client.search_runs([experiment_id], max_results=1)
    return Logged(
        experiment_name=experiment_name,
        experiment_id=experiment_id,
        run_id=run_id,
        artifact_uri=run.info.artifact_uri,
        model_name=model_name,
        version=str(version.version),
        page_token=page.token,
    )
