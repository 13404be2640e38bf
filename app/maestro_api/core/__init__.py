"""Core services: settings, database and RLS, authentication, RBAC, rate limits, audit, errors, telemetry."""
