"""The ``certdist`` command."""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click

from certdist.config import (
    Settings,
    UrlOrigin,
    development_public_url,
    export_for_workers,
    load_settings,
    prepare_metrics_dir,
    store_identity,
)
from certdist.domain.models import VACCINATION
from certdist.domain.requests import CertificationRequest, TestCertificationRequest, parse_batch
from certdist.domain.roles import Permission, Principal
from certdist.errors import CertdistError, InvalidInput
from certdist.formats.eu_dcc import names_from_request
from certdist.observability import configure_logging
from certdist.services.issuance import DEMO_MOBILE, AnyRequest, read_csv, seed_demo
from certdist.services.trust import TrustListFormat
from certdist.services.verification import Status, VerificationOutcome
from certdist.signing.keys import KeyUse
from certdist.wiring import Services, build_services

#: Commands that run until stopped: their logs are their record, so they log at the settings'
#: level. Every other command prints its answer only, unless --verbose or --log-level.
LONG_RUNNING = frozenset({"serve", "worker"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: Seconds ``serve`` lets open requests finish after SIGTERM. Deployments wait longer than
#: this before killing a container (deploy/, docs/deployment.md), and tests check they do.
GRACEFUL_SHUTDOWN_SECONDS = 20

WORKER_HEALTHCHECK_SECONDS = 60

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
        # The first command to use a data folder fixes its public URL (README, "Development
        # identity"), so that later runs on other ports still name the same issuer.
        ctx.obj["settings"] = _settings(ctx).remember_identity()
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
@click.option("--verbose", "-v", is_flag=True, help="Also print informational logs (stderr)")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="Print logs of this level and above (stderr); default WARNING, for serve and "
    "worker the log_level setting",
)
@click.version_option(package_name="certdist", prog_name="certdist", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config: Path | None, verbose: bool, log_level: str | None) -> None:
    """certdist: signed health certificates, wire-compatible with DIVOC."""
    ctx.ensure_object(dict)
    try:
        settings = load_settings(config)
    except CertdistError as exc:
        _fail(exc)
    level = command_log_level(ctx.invoked_subcommand, settings, verbose, log_level)
    configure_logging(level, json_lines=settings.log_json)
    ctx.obj["settings"] = settings


def command_log_level(
    command: str | None, settings: Settings, verbose: bool, log_level: str | None
) -> str:
    """The log level of a run: --log-level, else INFO with --verbose, else the settings'
    level for a long-running command and WARNING (at least) for one that answers and exits,
    so that its answer is all it prints (migrations, for one, log at INFO)."""
    if log_level:
        return log_level.upper()
    if verbose:
        return "INFO"
    configured = settings.log_level.upper()
    if command in LONG_RUNNING:
        return configured
    quieter = logging.getLevelNamesMapping().get(configured, 0) > logging.WARNING
    return configured if quieter else "WARNING"


@main.command()
@click.option("--demo", is_flag=True, help="Also issue the demo certificates")
@click.option(
    "--public-url",
    metavar="URL",
    help="Store URL as this data folder's public URL (development; default: the address of "
    "host and port, chosen once)",
)
@click.pass_context
def init(ctx: click.Context, demo: bool, public_url: str | None) -> None:
    """Create the data directory, database and signing keys (idempotent)."""
    try:
        if public_url is not None:
            _store_public_url(ctx, public_url)
        services = _services(ctx)
        click.echo(f"data directory: {_settings(ctx).data_dir.resolve()}")
        click.echo(f"public URL: {_public_url_text(_settings(ctx))}")
        click.echo(f"database: migrated to {services.database.current_revision()}")
        for key in services.keys.public_keys():
            click.echo(f"key: {key.id} ({key.use}, {key.algorithm})")
        if demo:
            click.echo(f"demo certificates issued: {seed_demo(services.issuance.certificates)}")
    except CertdistError as exc:
        _fail(exc)


def _store_public_url(ctx: click.Context, public_url: str) -> None:
    settings = _settings(ctx)
    if settings.is_production:
        raise CertdistError(
            "--public-url is for development: production reads public_url from its "
            "configuration only"
        )
    stored = store_identity(settings.data_dir, public_url)
    if settings.public_url_origin is UrlOrigin.CONFIGURED:
        click.echo(
            f"stored {stored} in {settings.identity_file}; the configured public_url wins "
            "over it while it is set",
            err=True,
        )
        return
    ctx.obj["settings"] = settings.with_public_url(stored, UrlOrigin.STORED)


def _public_url_text(settings: Settings) -> str:
    """The public URL and where it comes from, for a developer wondering why links name it."""
    if settings.public_url_origin is UrlOrigin.STORED:
        return f"{settings.public_url}  (this data folder's, stored in {settings.identity_file})"
    if settings.public_url_origin is UrlOrigin.CONFIGURED:
        return f"{settings.public_url}  (configured: CERTDIST_PUBLIC_URL or the config file)"
    return f"{settings.public_url}  (from host and port)"


def _local_token(
    services: Services, roles: tuple[str, ...], username: str, mobile: str | None, hours: float
) -> str:
    if services.access.local_issuer is None:
        raise CertdistError(
            "the local token issuer is off (production mode or local_token_issuer=false)"
        )
    return services.access.local_issuer.mint(
        roles, username=username, mobile=mobile, lifetime=timedelta(hours=hours)
    )


@main.command()
@click.option("--host", help="Address to listen on")
@click.option("--port", type=int, help="Port to listen on")
@click.option("--workers", type=int, help="Worker processes")
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    help="HTTP server (default: the `server` setting, uvicorn)",
)
@click.option("--demo", is_flag=True, help="Issue demo certificates and print a demo API token")
@click.option(
    "--move-identity",
    is_flag=True,
    help="Store the address served as this data folder's public URL (development)",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    workers: int | None,
    server: str | None,
    demo: bool,
    move_identity: bool,
) -> None:
    """Run the HTTP service."""
    settings = _settings(ctx)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    server = server or settings.server
    if server == "granian" and importlib.util.find_spec("granian") is None:
        _fail(InvalidInput("the granian server is not installed: pip install 'certdist[granian]'"))
    try:
        ctx.obj["settings"] = _serving_identity(settings, host, port, move=move_identity)
        services = _services(ctx)  # migrates the database once, before any worker starts
        if demo:
            seed_demo(services.issuance.certificates)
            token = _local_token(services, DEMO_ROLES, "demo-admin", None, 12)
    except CertdistError as exc:
        _fail(exc)
    settings = _settings(ctx)
    # Worker processes read the environment: they must name the same public URL.
    overrides = {"host": host, "port": str(port), "public_url": settings.public_url}
    _announce_public_url(settings, port)
    base = f"http://{host}:{port}"
    click.echo(
        f"certdist on {base}  (mode: {settings.mode.value}, data: {settings.data_dir.resolve()})"
    )
    click.echo(f"  API docs:      {base}/docs")
    click.echo(f"  health:        {base}/healthz   readiness: {base}/readyz")
    click.echo(f"  verifier:      {base}/verify")
    if settings.printing.local_staff_sign_in and not settings.is_production:
        click.echo(
            f"  facility desk: {base}/facility  (local sign-in: any user name, password "
            f"{settings.printing.local_staff_password!r})"
        )
    if settings.sms.backend == "inbox" and not settings.is_production:
        click.echo(
            f"  SMS inbox:     {base}/dev/sms  (answers this machine only: it shows every "
            "one-time code)"
        )
    if demo:
        click.echo(f"  demo beneficiaries: DEMO0001, DEMO0002, DEMO0003 (mobile {DEMO_MOBILE})")
        click.echo(
            f"  citizen portal: {base}/  (log in with {DEMO_MOBILE}; the one-time code is on "
            f"{base}/dev/sms and in `certdist sms inbox`)"
        )
        click.echo(
            "  signed credential:  curl -H 'Authorization: Bearer $TOKEN' "
            f"{base}/divoc/api/v1/certificates/<certificateId>"
        )
        click.echo(f"  demo API token (12 h, roles {', '.join(DEMO_ROLES)}):\n{token}")
    services.close()
    export_for_workers(overrides)
    if workers > 1:
        # Each worker process keeps its counters in files there; the one answering a scrape
        # sums them all. A single process counts in memory.
        try:
            prepare_metrics_dir(settings.data_dir)
        except CertdistError as exc:
            _fail(exc)
    if server == "granian":
        _run_granian(host, port, workers)
    else:
        _run_uvicorn(host, port, workers)


# Both servers call the same factory, which also applies X-Forwarded-For from trusted
# proxies; both give open requests GRACEFUL_SHUTDOWN_SECONDS to finish on SIGTERM, run the
# ASGI lifespan (the download audit is flushed at shutdown) and leave the request log to
# certdist.
_FACTORY = "certdist.web.app:app_from_environment"


def _run_uvicorn(host: str, port: int, workers: int) -> None:
    import uvicorn

    from certdist.serving import protocol_class

    uvicorn.run(
        _FACTORY,
        factory=True,
        # Each response reaches the socket in one write, so a worker killed mid-response
        # leaves nothing nginx has already passed on (certdist/serving.py).
        http=protocol_class(),
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # uvicorn's parent kills a worker that does not answer its ping within this time,
        # also while the worker is still importing and building its services, which takes
        # more than the default 5 s on a busy 2-core machine: workers were killed and
        # respawned without end (found bringing up scripts/fleet with --workers 2).
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        proxy_headers=False,  # the factory's own layer does it (web.app.behind_proxies)
    )


def _run_granian(host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        _FACTORY,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        factory=True,
        log_access=False,
        respawn_failed_workers=True,  # as uvicorn's supervisor restarts a dead worker
        workers_kill_timeout=GRACEFUL_SHUTDOWN_SECONDS,
    ).serve()


def _serving_identity(settings: Settings, host: str, port: int, *, move: bool) -> Settings:
    """The public URL a server names. In development a data folder keeps the one it was given
    first (README, "Development identity"): the address served only on first use, or when
    ``move`` asks to make it the folder's new one."""
    served = development_public_url(host, port)
    if move:
        if settings.is_production or settings.public_url_origin is UrlOrigin.CONFIGURED:
            raise CertdistError(
                "--move-identity: public_url is configured (CERTDIST_PUBLIC_URL or the config "
                "file), and a configured public URL wins over the data folder's"
            )
        stored = store_identity(settings.data_dir, served)
        return settings.with_public_url(stored, UrlOrigin.STORED)
    if settings.public_url_origin is UrlOrigin.DERIVED and not settings.is_production:
        return settings.with_public_url(served, UrlOrigin.DERIVED)
    return settings


def _announce_public_url(settings: Settings, port: int) -> None:
    click.echo(f"public URL: {_public_url_text(settings)}")
    stored = urlsplit(settings.public_url)
    if settings.public_url_origin is not UrlOrigin.STORED or stored.scheme != "http":
        return
    stored_port = stored.port or 80
    if stored_port != port:
        click.echo(
            f"note: this server listens on port {port}, but this data folder's links and "
            f"card issuer name port {stored_port}; `certdist serve --port {port} "
            "--move-identity` makes this port the folder's (earlier links then point nowhere)",
            err=True,
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
@click.option("--test", "lab_test", is_flag=True, help="The file holds lab test requests or rows")
@click.pass_context
def issue(ctx: click.Context, file: Path, program_id: str, lab_test: bool) -> None:
    """Issue certificates from a JSON array of requests or a DIVOC bulk CSV."""
    try:
        services = _services(ctx)
        if file.suffix.lower() == ".csv":
            _issue_csv(services, file, program_id, lab_test)
        else:
            _issue_json(services, file, lab_test)
    except CertdistError as exc:
        _fail(exc)


def _issue_json(services: Services, file: Path, lab_test: bool) -> None:
    try:
        body: Any = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{file.name} is not JSON: {exc}") from exc
    limit = services.settings.max_batch_items
    requests: list[AnyRequest]
    if lab_test:
        requests = list(parse_batch(TestCertificationRequest, body, max_items=limit))
    else:
        requests = list(parse_batch(CertificationRequest, body, max_items=limit))
    for issued in services.issuance.certificates.certify(requests):
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
    data = file.read_bytes()
    parsed = read_csv(data, entity_type)
    upload = services.issuance.bulk.start(
        file.name, entity_type, "cli", data, program_id=program_id
    )
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

        result = services.issuance.bulk.run(upload.id, progress=progress)
    click.echo(
        f"upload {result.id}: {result.succeeded} issued, {result.failed} failed "
        f"of {result.total_rows} rows ({result.status.value})"
    )
    errors = services.issuance.bulk.row_errors(result.id)
    for error in errors[:50]:
        details = "; ".join(f"{e.location}: {e.message}" for e in error.errors)
        click.echo(f"  row {error.row}: {details}")
    if len(errors) > 50:
        click.echo(f"  … and {len(errors) - 50} more")
    if result.failed:
        sys.exit(1)


@main.command()
@click.argument("source")
@click.pass_context
def verify(ctx: click.Context, source: str) -> None:
    """Verify a certificate: SOURCE is a file (a PDF or an image with the QR code, a signed
    credential or FHIR bundle as JSON, .smart-health-card, QR text), the text itself (HC1:…,
    shc:/…, a JWS, an SD-JWT VC presentation), or - for standard input.

    Exit status: 0 valid, 1 invalid (bad signature, unknown issuer, expired, revoked),
    2 unreadable (not a certificate in any known form).
    """
    from certdist.errors import PayloadTooLarge

    try:
        services = _services(ctx)
        limit = services.settings.verifier.max_image_bytes
        # A file named .pdf must be one: "not a PDF" says more than "not a certificate".
        expect_pdf = False
        if source == "-":
            data: bytes | str = sys.stdin.buffer.read(limit + 1)
        elif Path(source).is_file():
            expect_pdf = Path(source).suffix.lower() == ".pdf"
            with Path(source).open("rb") as handle:
                data = handle.read(limit + 1)
        else:
            data = source
        if len(data) > limit:
            raise PayloadTooLarge(f"the input is larger than {limit} bytes")
        outcome = services.verifier.check(data, expect_pdf=expect_pdf)
    except PayloadTooLarge as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except CertdistError as exc:
        _fail(exc)
    _print_outcome(outcome)
    sys.exit(0 if outcome.status is Status.VALID else 1)


def _print_outcome(outcome: VerificationOutcome) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Text, not markup: the values come from the certificate and may hold "[...]".
    colour = "bold green" if outcome.status is Status.VALID else "bold red"
    console = Console(highlight=False, soft_wrap=True)
    console.print(Text.assemble((outcome.status.upper(), colour), ": ", outcome.reason))
    if outcome.certificate is None:
        return
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    for name, value in outcome.certificate.as_json().items():
        table.add_row(name.replace("_", " "), Text(str(value)))
    console.print(table)


@main.command("print")
@click.option("--facility", help="Facility name, exactly as on the certificates")
@click.option("--date", "day", help="Vaccination date, YYYY-MM-DD (with --facility)")
@click.option(
    "--codes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File of beneficiary ids (preEnrollmentCode), one per line",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--zip", "as_zip", is_flag=True, help="A ZIP of one PDF per certificate")
@click.pass_context
def print_batch(
    ctx: click.Context,
    facility: str | None,
    day: str | None,
    codes: Path | None,
    out: Path,
    as_zip: bool,
) -> None:
    """Print a facility-day or a list of beneficiaries into one PDF (or a ZIP of PDFs)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from certdist.services.facility import BatchFormat, parse_selection, read_codes_file

    try:
        services = _services(ctx)
        listed = read_codes_file(codes.read_text(encoding="utf-8-sig")) if codes else None
        selection = parse_selection(
            facility=facility, day=day, codes=listed, max_codes=services.facility.printing.max_codes
        )
        columns = (TextColumn("printing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns) as bar:
            task = bar.add_task("print", total=None)
            result = services.facility.printing.write(
                selection,
                BatchFormat.ZIP if as_zip else BatchFormat.PDF,
                out,
                actor="cli",
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (OSError, UnicodeDecodeError) as exc:
        _fail(CertdistError(f"cannot read or write a file: {exc}"))
    except CertdistError as exc:
        _fail(exc)
    for code in result.unknown[:50]:
        click.echo(f"  no live certificate: {code}", err=True)
    if len(result.unknown) > 50:
        click.echo(f"  … and {len(result.unknown) - 50} more", err=True)
    if not result.written:
        click.echo("nothing printed: no live certificate matches", err=True)
        sys.exit(1)
    click.echo(
        f"{result.printed} certificates printed to {out} ({result.size:,} bytes); "
        f"{len(result.unknown)} ids without a live certificate"
    )


EXPORT_FORMATS = ("json", "qr", "pdf", "shc", "shc-pdf", "shc-file", "eu-dcc", "eu-dcc-pdf", "fhir")


@main.command()
@click.option(
    "--format",
    "format_name",
    type=click.Choice(EXPORT_FORMATS),
    default="pdf",
    show_default=True,
    help="json: signed credential; qr: DIVOC QR (PNG); shc / eu-dcc: SMART Health Card / EU "
    "DCC QR (PNG); shc-pdf / eu-dcc-pdf: PDF with that QR; shc-file: .smart-health-card; "
    "fhir: DDCC:VS bundle",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="default: stdout")
@click.option("--fn", help="EU DCC surname (default: derived from the certificate's name)")
@click.option("--fnt", help="EU DCC surname, ICAO 9303 transliteration")
@click.option("--gn", help="EU DCC forename")
@click.option("--gnt", help="EU DCC forename, ICAO 9303 transliteration")
@click.argument("code")
@click.pass_context
def export(
    ctx: click.Context,
    format_name: str,
    out: Path | None,
    code: str,
    fn: str | None,
    fnt: str | None,
    gn: str | None,
    gnt: str | None,
) -> None:
    """Write the latest certificate of beneficiary CODE in a format (audited): the latest
    vaccination, or the latest lab test for someone never vaccinated."""
    names = {"fn": fn, "fnt": fnt, "gn": gn, "gnt": gnt}
    operator = Principal(subject="cli", username="cli", roles=frozenset(), issuer="cli")
    permission = Permission.DISTRIBUTE
    try:
        services = _services(ctx)
        bundle = services.distribution.wallet.bundle(code, caller=operator, permission=permission)
        given = {key: value for key, value in names.items() if value}
        if given and format_name not in ("eu-dcc", "eu-dcc-pdf"):
            raise InvalidInput("--fn/--fnt/--gn/--gnt apply to the eu-dcc formats only")
        if given:
            artifact = services.distribution.wallet.eu_dcc(
                bundle,
                names_from_request(given),
                pdf=format_name == "eu-dcc-pdf",
                caller=operator,
                permission=permission,
            )
        else:
            artifact = services.distribution.certificates.render(
                bundle, format_name, caller=operator, permission=permission
            )
    except CertdistError as exc:
        _fail(exc)
    if out is None:
        sys.stdout.buffer.write(artifact.content)
        return
    out.write_bytes(artifact.content)
    click.echo(f"{artifact.media_type}, {len(artifact.content):,} bytes written to {out}", err=True)


@main.command()
@click.option("--once", is_flag=True, help="Send what is due now, then exit")
@click.pass_context
def worker(ctx: click.Context, once: bool) -> None:
    """Send the outbox's mail and SMS, run queued print jobs and resume bulk uploads whose
    server stopped, until SIGTERM or Ctrl-C (run as many as you like: each message and each
    job is claimed by one worker)."""
    import signal
    import threading

    from certdist.services.facility import PrintJobRunner

    try:
        services = _services(ctx)
        sender = services.messaging.outbox_worker()
        if once:
            click.echo(f"messages attempted: {sender.run_once()}")
            jobs = 0
            while services.facility.printing.run_next_job():
                jobs += 1
            click.echo(f"print jobs run: {jobs}")
            resumed = 0
            while services.issuance.bulk.run_next_job():
                resumed += 1
            click.echo(f"bulk uploads resumed: {resumed}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"outbox worker {sender.worker_id} running; SIGTERM or Ctrl-C stops it")
        printing = PrintJobRunner(
            services.facility.printing, poll_seconds=services.settings.printing.batch_poll_seconds
        )
        printing.start()
        uploads = services.issuance.start_upload_jobs()
        try:
            sender.run_forever(stop, poll_seconds=services.settings.mail.worker_poll_seconds)
        finally:
            printing.stop()  # an unfinished job goes back to the queue
            uploads.stop()  # an unfinished upload is given back, to resume from its cursor
        click.echo("outbox worker stopped")
    except CertdistError as exc:
        _fail(exc)


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


@main.group()
def trust() -> None:
    """Foreign trust lists for the verifier."""


@trust.command("import")
@click.argument("source")
@click.option(
    "--format",
    "list_format",
    type=click.Choice([f.value for f in TrustListFormat]),
    required=True,
    help="eu-dcc: DCC Gateway trust list; gdhcn-did: WHO GDHCN DID document; "
    "vci-directory: VCI issuer directory (SMART Health Cards)",
)
@click.option("--name", help="Stored under this name; the next import by it replaces it")
@click.pass_context
def trust_import(ctx: click.Context, source: str, list_format: str, name: str | None) -> None:
    """Import the trust list at SOURCE (a file or an https URL) into the verifier's trusted
    keys; a running server reads it when restarted."""
    try:
        summary = _services(ctx).trust.importer.import_list(source, list_format, name=name)
    except CertdistError as exc:
        _fail(exc)
    click.echo(
        f"imported {summary.name!r}: {summary.document_signers} EU DCC document signer(s), "
        f"{summary.shc_issuers} SMART Health Card issuer(s) -> {summary.path}"
    )


@main.group()
def sms() -> None:
    """Text messages (the development outbox)."""


@sms.command("inbox")
@click.option("--last", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.pass_context
def sms_inbox(ctx: click.Context, last: int) -> None:
    """Print the newest SMS of the development inbox (to read a one-time code)."""
    try:
        inbox = _services(ctx).messaging.dev_inbox
        if inbox is None or _settings(ctx).is_production:
            raise CertdistError("the SMS inbox is used only in development with sms.backend=inbox")
        for message in inbox.latest(last):
            click.echo(f"{message.created_at:%Y-%m-%d %H:%M:%S} UTC  to {message.recipient}")
            click.echo("  " + message.body.replace("\n", "\n  "))
    except CertdistError as exc:
        _fail(exc)


# The command's first name, from before "outbox" meant only the durable queue; still works.
_former_sms_inbox = copy.copy(sms_inbox)
_former_sms_inbox.hidden = True
sms.add_command(_former_sms_inbox, "outbox")


if __name__ == "__main__":  # pragma: no cover
    main()
