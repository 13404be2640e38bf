import maestro_policies.serve  # noqa: F401  (importing it starts the pack: see maestro_policies/serve.py)
