"""``maestro-api``: migrate, serve, bootstrap, audit verify and seal (and the generators of app/openapi.json and
docs/rbac.md). Settings come from ``MAESTRO_*`` environment variables; a refused setting exits 2 naming it.

``migrate`` is the one command that reads the table owner's URL (``MigrationSettings``); every other command runs
with the service's own settings and role.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
import typer
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from maestro_api.core.config import TIERS, MigrationSettings, Settings
from maestro_api.core.rbac import ROLES

if TYPE_CHECKING:
    from maestro_api.core.audit import ChainHead

app = typer.Typer(help="The Maestro API service.", no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

APP_DIR = Path(__file__).resolve().parent.parent
OWNER_URL_VARIABLE = "MAESTRO_DATABASE_OWNER_URL"
AnySettings = TypeVar("AnySettings", Settings, MigrationSettings)


def _err(message: str) -> None:
    typer.echo(message, err=True)


def load_settings(kind: type[AnySettings] = Settings) -> AnySettings:  # type: ignore[assignment]
    """Settings from the environment; exit 2 with the offending setting's name when refused."""
    try:
        return kind()  # type: ignore[call-arg]  # the environment supplies the required fields
    except ValidationError as exc:
        for error in exc.errors():
            loc = ".".join(str(p) for p in error["loc"])
            name = f"MAESTRO_{loc.upper()}: " if loc else ""
            _err(f"refusing to start: {name}{str(error['msg']).removeprefix('Value error, ')}")
        raise typer.Exit(2) from None


@app.command()
def migrate() -> None:
    """Upgrade the database to the latest schema, as MAESTRO_DATABASE_OWNER_URL, granting to the service role
    (MAESTRO_DATABASE_SERVICE_ROLE). Run it as a one-shot step of its own: the serving process never gets the
    owner's URL."""
    from alembic import command
    from alembic.config import Config

    settings = load_settings(MigrationSettings)
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
    # Only the variable's presence is looked at: the serving process never reads the owner's credentials.
    if OWNER_URL_VARIABLE in os.environ:
        if settings.environment != "dev":
            _err(
                f"refusing to start: {OWNER_URL_VARIABLE} is in the environment; the serving process must not hold "
                "the table owner's credentials (give them to `maestro-api migrate` only)"
            )
            raise typer.Exit(2)
        _err(f"warning: {OWNER_URL_VARIABLE} is set and ignored by serve (outside dev it is refused)")
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
        async with create_sessionmaker(engine, audit_key=settings.audit_signing_key)() as session, session.begin():
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
    anchor: Annotated[
        Path | None,
        typer.Option(
            help="A JSON file of chain heads kept outside the database: every chain must still pass through its "
            "recorded head; the file is rewritten with the current heads when all verify.",
        ),
    ] = None,
) -> None:
    """Verify the hash chains with the audit keys; exit 1 naming the first bad event."""
    settings = load_settings()
    ok = asyncio.run(_verify(settings, tenant, anchor))
    raise typer.Exit(0 if ok else 1)


async def _tenant_ids(conn: AsyncConnection, tenant: str | None) -> list[uuid.UUID] | None:
    """The chains to verify: one tenant's (by name or id), or every chain in the log; None for an unknown name."""
    if tenant is None:
        rows = await conn.execute(
            text("SELECT tenant_id FROM audit_chain_heads UNION SELECT DISTINCT tenant_id FROM audit_events")
        )
        return sorted(r[0] for r in rows)
    try:
        return [uuid.UUID(tenant)]
    except ValueError:
        found = (await conn.execute(text("SELECT id FROM tenants WHERE name = :n"), {"n": tenant})).first()
        return [found[0]] if found is not None else None


async def _verify(settings: Settings, tenant: str | None, anchor_file: Path | None) -> bool:
    from maestro_api.core.audit import VerifyRules, verify_chain

    rules = VerifyRules(keys=settings.audit_keys, legacy_cutoff=settings.audit_legacy_cutoff)
    anchors = read_anchors(anchor_file) if anchor_file is not None else {}
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            await conn.execute(
                text("SELECT set_config('maestro.platform', 'on', true), set_config('maestro.tenant_id', '', true)")
            )
            tenant_ids = await _tenant_ids(conn, tenant)
            if tenant_ids is None:
                _err(f"no tenant named {tenant!r}")
                return False
            if tenant is None:
                tenant_ids = sorted({*tenant_ids, *anchors})  # an anchored chain that vanished is a finding
            total, heads = 0, dict(anchors)
            for tenant_id in tenant_ids:
                count, head, problem = await verify_chain(conn, tenant_id, rules, anchors.get(tenant_id))
                total += count
                if problem is not None:
                    _err(f"audit chain BROKEN: {problem}")
                    return False
                heads[tenant_id] = head
            _err(f"audit chain ok: {total} events in {len(tenant_ids)} tenant chain(s)")
    finally:
        await engine.dispose()
    if anchor_file is not None:
        write_anchors(anchor_file, heads)
        _err(f"anchored {len(heads)} chain head(s) in {anchor_file}")
    return True


def read_anchors(path: Path) -> dict[uuid.UUID, ChainHead]:
    """The heads an earlier ``audit verify --anchor`` recorded (none when the file does not exist yet)."""
    from maestro_api.core.audit import ChainHead

    if not path.exists():
        return {}
    data = orjson.loads(path.read_bytes())
    return {uuid.UUID(t): ChainHead(int(h["seq"]), str(h["hash"])) for t, h in data.items()}


def write_anchors(path: Path, heads: dict[uuid.UUID, ChainHead]) -> None:
    """Replace ``path`` atomically with ``heads``."""
    doc = {str(t): {"seq": h.seq, "hash": h.hash} for t, h in sorted(heads.items())}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    os.replace(tmp, path)


@audit_app.command("seal")
def audit_seal() -> None:
    """Once, when a log that began with plain SHA-256 events switches to keyed ones, before
    MAESTRO_AUDIT_LEGACY_CUTOFF: append a keyed event to every chain that still ends with a plain event."""
    from maestro_api.core.audit import seal_chains
    from maestro_api.core.db import create_engine, create_sessionmaker

    settings = load_settings()
    if settings.audit_legacy_cutoff is None:
        _err(
            "refusing to seal: set MAESTRO_AUDIT_LEGACY_CUTOFF (a time shortly after this seal) first; see docs/api.md"
        )
        raise typer.Exit(2)

    async def seal() -> list[uuid.UUID]:
        engine = create_engine(settings)
        try:
            maker = create_sessionmaker(engine, audit_key=settings.audit_signing_key)
            assert settings.audit_legacy_cutoff is not None
            return await seal_chains(maker, settings.audit_legacy_cutoff)
        finally:
            await engine.dispose()

    try:
        sealed = asyncio.run(seal())
    except ValueError as exc:
        _err(f"refusing to seal: {exc}")
        raise typer.Exit(2) from None
    _err(f"sealed {len(sealed)} chain(s) with audit key {settings.audit_signing_key.id}")


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
