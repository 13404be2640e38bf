"""Maestro's CrossGuard policy pack: rules by family (storage, databases, network, edge, kubernetes, platform,
identity, secrets, tagging), the exceptions file and the registry that turns rules into policies.

Importing this package never starts a server; `maestro_policies.serve` does.
"""
