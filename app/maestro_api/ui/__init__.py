"""MLflow's own web UI for each tenant under ``/mlflow/``, behind OIDC sign-in (docs/ui.md).

- ``table``: the allow list: the client proxy's REST calls the UI makes, and what only the UI calls.
- ``graphql``: the GraphQL queries the UI sends, checked field by field (permissions, no introspection).
- ``oidc``: the relying party: authorization code flow with PKCE, state and nonce; the ID token verified.
- ``session``: server-side sessions in Redis behind a ``__Host-`` cookie; pending sign-ins bound to the browser.
- ``runtime``: the process-wide objects, the session as credential, the same-origin check (CSRF).
- ``routes``: the routes: page, static files, REST, GraphQL, artifacts, sign-in and sign-out.
"""
