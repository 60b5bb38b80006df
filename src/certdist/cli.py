"""The ``certdist`` command."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import click

from certdist.config import Settings, export_for_workers, load_settings
from certdist.domain.models import VACCINATION
from certdist.domain.requests import CertificationRequest, parse_batch
from certdist.errors import CertdistError, InvalidInput
from certdist.observability import configure_logging
from certdist.services.bulk import read_csv
from certdist.services.container import Services, build_services
from certdist.services.demo import DEMO_MOBILE, seed_demo
from certdist.signing.keys import KeyUse

DEMO_ROLES = (
    "certificate-issuer",
    "certificate-corrector",
    "certificate-revoker",
    "facility-admin",
    "certificate-api",
)


def _settings(ctx: click.Context) -> Settings:
    settings: Settings = ctx.obj["settings"]
    return settings


def _services(ctx: click.Context) -> Services:
    if "services" not in ctx.obj:
        ctx.obj["services"] = build_services(_settings(ctx))
        ctx.call_on_close(ctx.obj["services"].close)
    services: Services = ctx.obj["services"]
    return services


def _fail(error: CertdistError) -> NoReturn:
    click.echo(f"error: {error}", err=True)
    if isinstance(error, InvalidInput):
        for item in error.errors:
            click.echo(f"  {item.location}: {item.message}", err=True)
    sys.exit(2 if isinstance(error, InvalidInput) else 1)


@click.group()
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML settings file",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """certdist: signed health certificates, wire-compatible with DIVOC."""
    ctx.ensure_object(dict)
    try:
        settings = load_settings(config)
    except CertdistError as exc:
        _fail(exc)
    configure_logging(settings.log_level, json_lines=settings.log_json)
    ctx.obj["settings"] = settings


@main.command()
@click.option("--demo", is_flag=True, help="Also issue the demo certificates")
@click.pass_context
def init(ctx: click.Context, demo: bool) -> None:
    """Create the data directory, database and signing keys (idempotent)."""
    try:
        services = _services(ctx)
        click.echo(f"data directory: {_settings(ctx).data_dir.resolve()}")
        click.echo(f"database: migrated to {services.database.current_revision()}")
        for key in services.keys.public_keys():
            click.echo(f"key: {key.id} ({key.use}, {key.algorithm})")
        if demo:
            click.echo(f"demo certificates issued: {seed_demo(services.issuance)}")
    except CertdistError as exc:
        _fail(exc)


def _local_token(
    services: Services, roles: tuple[str, ...], username: str, mobile: str | None, hours: float
) -> str:
    if services.local_issuer is None:
        raise CertdistError(
            "the local token issuer is off (production mode or local_token_issuer=false)"
        )
    return services.local_issuer.mint(
        roles, username=username, mobile=mobile, lifetime=timedelta(hours=hours)
    )


@main.command()
@click.option("--host", help="Address to listen on")
@click.option("--port", type=int, help="Port to listen on")
@click.option("--workers", type=int, help="Worker processes")
@click.option("--demo", is_flag=True, help="Issue demo certificates and print a demo API token")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, workers: int | None, demo: bool
) -> None:
    """Run the HTTP service."""
    import uvicorn

    settings = _settings(ctx)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    try:
        services = _services(ctx)  # migrates the database once, before any worker starts
        if demo:
            seed_demo(services.issuance)
            token = _local_token(services, DEMO_ROLES, "demo-admin", None, 12)
    except CertdistError as exc:
        _fail(exc)
    base = f"http://{host}:{port}"
    click.echo(
        f"certdist on {base}  (mode: {settings.mode.value}, data: {settings.data_dir.resolve()})"
    )
    click.echo(f"  API docs:      {base}/docs")
    click.echo(f"  health:        {base}/healthz   readiness: {base}/readyz")
    if demo:
        click.echo(f"  demo beneficiaries: DEMO0001, DEMO0002, DEMO0003 (mobile {DEMO_MOBILE})")
        click.echo(
            "  signed credential:  curl -H 'Authorization: Bearer $TOKEN' "
            f"{base}/divoc/api/v1/certificates/<certificateId>"
        )
        click.echo(f"  demo API token (12 h, roles {', '.join(DEMO_ROLES)}):\n{token}")
    services.close()
    export_for_workers({"host": host, "port": str(port)})
    uvicorn.run(
        "certdist.web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


@main.command()
@click.option("--role", "roles", multiple=True, required=True, help="Role to grant (repeatable)")
@click.option("--mobile", help="Mobile number for a recipient token")
@click.option("--username", default="local-user", show_default=True)
@click.option("--hours", type=float, default=12.0, show_default=True)
@click.pass_context
def token(
    ctx: click.Context, roles: tuple[str, ...], mobile: str | None, username: str, hours: float
) -> None:
    """Mint a bearer token from the local issuer (development mode only)."""
    try:
        click.echo(_local_token(_services(ctx), roles, username, mobile, hours))
    except CertdistError as exc:
        _fail(exc)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--program-id", default="", help="programId for CSV rows")
@click.option("--test", "lab_test", is_flag=True, help="The CSV holds lab test rows")
@click.pass_context
def issue(ctx: click.Context, file: Path, program_id: str, lab_test: bool) -> None:
    """Issue certificates from a JSON array of requests or a DIVOC bulk CSV."""
    try:
        services = _services(ctx)
        if file.suffix.lower() == ".csv":
            _issue_csv(services, file, program_id, lab_test)
        else:
            _issue_json(services, file)
    except CertdistError as exc:
        _fail(exc)


def _issue_json(services: Services, file: Path) -> None:
    try:
        body: Any = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{file.name} is not JSON: {exc}") from exc
    requests = parse_batch(CertificationRequest, body, max_items=services.settings.max_batch_items)
    for issued in services.issuance.certify(requests):
        click.echo(json.dumps(issued.as_json()))


def _issue_csv(services: Services, file: Path, program_id: str, lab_test: bool) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from certdist.domain.models import TEST

    entity_type = TEST if lab_test else VACCINATION
    parsed = read_csv(file.read_bytes(), entity_type)
    upload = services.bulk.start(file.name, entity_type, "cli")
    columns = (
        TextColumn("issuing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=None) as bar:
        task = bar.add_task("issue", total=parsed.total_rows, failed=0)

        def progress(done: int, failed: int) -> None:
            bar.update(task, completed=done, failed=failed)

        result = services.bulk.process(upload, parsed, program_id=program_id, progress=progress)
    click.echo(
        f"upload {result.id}: {result.succeeded} issued, {result.failed} failed "
        f"of {result.total_rows} rows ({result.status.value})"
    )
    errors = services.database.uploads().errors(result.id)
    for error in errors[:50]:
        details = "; ".join(f"{e.location}: {e.message}" for e in error.errors)
        click.echo(f"  row {error.row}: {details}")
    if len(errors) > 50:
        click.echo(f"  … and {len(errors) - 50} more")
    if result.failed:
        sys.exit(1)


@main.group()
def keys() -> None:
    """Signing keys."""


@keys.command("public")
@click.pass_context
def keys_public(ctx: click.Context) -> None:
    """Print every public key (PEM) with its id and use."""
    try:
        for key in _services(ctx).keys.public_keys():
            click.echo(
                f"# id: {key.id}\n"
                f"# use: {key.use}  algorithm: {key.algorithm}  active: {key.active}"
            )
            click.echo(key.pem.strip())
            click.echo()
    except CertdistError as exc:
        _fail(exc)


@keys.command("rotate")
@click.option(
    "--use", type=click.Choice([u.value for u in KeyUse]), default="credential", show_default=True
)
@click.pass_context
def keys_rotate(ctx: click.Context, use: str) -> None:
    """Make a new active key; older keys stay to verify what they signed."""
    try:
        services = _services(ctx)
        key = services.keys.rotate(KeyUse(use), services.clock.now())
        click.echo(f"new active {use} key: {key.id}")
    except CertdistError as exc:
        _fail(exc)


if __name__ == "__main__":  # pragma: no cover
    main()
