"""The tenant-scoped model registry on MLflow: REST client, scoping, SSRF guard, read cache, A/B deployments.

- ``mlflow_client``: pooled, time-bounded MLflow REST client; maps MLflow errors to problem+json.
- ``refusals``: the one table of MLflow's refusals and the fixed sentences both paths answer them with.
- ``scoping``: one MLflow workspace per tenant; responses rebuilt from whitelisted fields.
- ``ssrf``: a model version's source must lie under the tenant's artifact root.
- ``cache``: tenant-keyed Redis read cache per family, dropped by every write of either path, bounded TTL.
- ``ab``: deterministic weighted routing of keys to deployment variants.
- ``service``: the registry operations the routes call.
- ``deployments``: the deployment table and its service.
- ``quotas``: ``max_models`` and ``max_deployments``, taken atomically under the tenant's locked quota row.
"""
