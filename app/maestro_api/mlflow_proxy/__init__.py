"""The stock-MLflow-client proxy under ``/mlflow``: allow-listed routes, tenant workspaces, streamed artifacts.

- ``table``: the allow list; every MLflow route the Python client uses, each with its RBAC permission.
- ``errors``: MLflow's own error shape (``{"error_code": ..., "message": ...}``) for every refusal.
- ``guards``: request checks that keep a tenant inside its workspace (artifact paths, locations, sources).
- ``artifacts``: write-once artifact paths, and the bytes of registered versions guarded by ``models:promote``.
- ``forward``: the pooled upstream client: JSON calls, streamed artifact uploads and downloads, metrics.
- ``runtime``: the process-wide proxy object (lifespan hook), the route class and the permission dependency.
"""
