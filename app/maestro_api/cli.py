"""``maestro-api``: migrate, serve, bootstrap, audit verify (and the generators of app/openapi.json and
docs/rbac.md). Settings come from ``MAESTRO_*`` environment variables; a refused setting exits 2 naming it."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from maestro_api.core.config import TIERS, Settings
from maestro_api.core.rbac import ROLES

app = typer.Typer(help="The Maestro API service.", no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

APP_DIR = Path(__file__).resolve().parent.parent


def _err(message: str) -> None:
    typer.echo(message, err=True)


def load_settings() -> Settings:
    """Settings from the environment; exit 2 with the offending setting's name when refused."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            name = f"MAESTRO_{loc.upper()}: " if loc else ""
            _err(f"refusing to start: {name}{str(error['msg']).removeprefix('Value error, ')}")
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Upgrade the database to the latest schema, as MAESTRO_DATABASE_OWNER_URL, granting to the service role."""
    from alembic import command
    from alembic.config import Config

    settings = load_settings()
    cfg = Config()
    cfg.set_main_option("script_location", "maestro_api:migrations")
    cfg.set_main_option("sqlalchemy.url", settings.owner_url.replace("%", "%%"))
    cfg.attributes["service_role"] = settings.service_role
    command.upgrade(cfg, "head")
    _err(f"migrated {make_url(settings.owner_url).database} to head (service role {settings.service_role})")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (metrics are per process).")] = 1,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = load_settings()
    if settings.environment == "prod" and settings.database_owner_url:
        owner, service = make_url(settings.database_owner_url).username, settings.service_role
        if owner == service:
            _err("refusing to start: MAESTRO_DATABASE_URL must not use the table owner's role in prod")
            raise typer.Exit(2)
    uvicorn.run(
        "maestro_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        log_level=settings.log_level.lower(),
    )


@app.command()
def bootstrap(
    tenant: Annotated[str, typer.Option(help="Tenant name (lower-case, DNS-style).")],
    tier: Annotated[str, typer.Option(help=f"One of {', '.join(TIERS)}.")] = "free",
    role: Annotated[str, typer.Option(help="Role of the printed key.")] = "tenant-admin",
) -> None:
    """Create the tenant (if missing) and print a new API key for it, once, on stdout."""
    if tier not in TIERS:
        _err(f"--tier must be one of {', '.join(TIERS)}")
        raise typer.Exit(2)
    if role not in ROLES:
        _err(f"--role must be one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    settings = load_settings()
    key = asyncio.run(_bootstrap(settings, tenant=tenant, tier=tier, role=role))
    sys.stdout.write(key + "\n")


async def _bootstrap(settings: Settings, *, tenant: str, tier: str, role: str) -> str:
    from maestro_api.core.audit import append_event
    from maestro_api.core.db import create_engine, create_sessionmaker, set_tenant_context
    from maestro_api.crud import create_api_key, create_tenant
    from maestro_api.models import Tenant

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await set_tenant_context(session, tenant_id=uuid.UUID(int=0), platform=True)
            existing = (await session.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": tenant})).first()
            if existing is None:
                row = await create_tenant(session, name=tenant, tier=tier)
                tenant_id = row.id
                _err(f"created tenant {tenant} ({tenant_id}, tier {tier})")
            else:
                tenant_id = existing[0]
                current = await session.get(Tenant, tenant_id)
                _err(f"tenant {tenant} exists ({tenant_id}, tier {current.tier if current else '?'}); new key only")
            await set_tenant_context(session, tenant_id=tenant_id, platform=True)
            key_row, new = await create_api_key(
                session,
                tenant_id=tenant_id,
                name="bootstrap",
                role=role,
                created_by="cli:bootstrap",
                pepper=settings.api_key_pepper.get_secret_value(),
                enforce_quota=False,
            )
            await append_event(
                session,
                tenant_id=tenant_id,
                actor="cli:bootstrap",
                action="api_keys:create",
                target=f"api_key:{key_row.id}",
                outcome="success",
                request_id="-",
                client_address="cli",
            )
        _err(f"{role} key {new.prefix} created; it is printed once, store it now")
        return new.plaintext
    finally:
        await engine.dispose()


@audit_app.command("verify")
def audit_verify(
    tenant: Annotated[str | None, typer.Option(help="Tenant name or id; default: every tenant.")] = None,
) -> None:
    """Verify the hash chains; exit 1 naming the first bad event."""
    settings = load_settings()
    ok = asyncio.run(_verify(settings, tenant))
    raise typer.Exit(0 if ok else 1)


async def _verify(settings: Settings, tenant: str | None) -> bool:
    from maestro_api.core.audit import verify_chain

    engine = create_async_engine(settings.owner_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            await conn.execute(
                text("SELECT set_config('maestro.platform', 'on', true), set_config('maestro.tenant_id', '', true)")
            )
            if tenant is None:
                rows = await conn.execute(
                    text("SELECT tenant_id FROM audit_chain_heads UNION SELECT DISTINCT tenant_id FROM audit_events")
                )
                tenant_ids = sorted(r[0] for r in rows)
            else:
                try:
                    tenant_ids = [uuid.UUID(tenant)]
                except ValueError:
                    found = (await conn.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": tenant})).first()
                    if found is None:
                        _err(f"no tenant named {tenant!r}")
                        return False
                    tenant_ids = [found[0]]
            total = 0
            for tenant_id in tenant_ids:
                count, problem = await verify_chain(conn, tenant_id)
                total += count
                if problem is not None:
                    _err(f"audit chain BROKEN: {problem}")
                    return False
            _err(f"audit chain ok: {total} events in {len(tenant_ids)} tenant chain(s)")
            return True
    finally:
        await engine.dispose()


def openapi_document() -> str:
    """The OpenAPI document as committed in app/openapi.json."""
    from maestro_api.main import create_app

    spec = create_app(Settings(environment="dev")).openapi()
    return orjson.dumps(spec, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"


@app.command("openapi")
def export_openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = APP_DIR / "openapi.json",
) -> None:
    """Write the OpenAPI document (app/openapi.json; a test fails when it drifts from the code)."""
    output.write_text(openapi_document())
    _err(f"wrote {output}")


@app.command("rbac-docs")
def rbac_docs(
    output: Annotated[Path, typer.Option(help="Where to write the table.")] = APP_DIR.parent / "docs" / "rbac.md",
) -> None:
    """Write docs/rbac.md from the RBAC matrix (a test fails when it drifts)."""
    from maestro_api.core.rbac import render_markdown

    output.write_text(render_markdown())
    _err(f"wrote {output}")
