"""Load N signed certificates into PostgreSQL with COPY: the data set of the fleet benchmark.

    .venv/bin/python bench/load_certificates.py --fleet [DIR] [--count 1000000]
        [--distinct 1000] [--batch 50000] [--processes 2] [--prefix LD…]
    .venv/bin/python bench/load_certificates.py --database-url URL --data-dir DIR …

The target is a certdist deployment: its database (migrated first, as ``certdist`` does) and
its data folder (the credential key). ``--fleet`` takes both from a loopback fleet
(``scripts/fleet up``; the newest one, or DIR): never the shared PostgreSQL on 5432.

Signing every certificate with the real signer (RsaSignature2018 over URDNA2015, 300-450 a
second per core here) would take most of an hour for a million on two cores, so the loader
signs ``--distinct`` certificates (one dose each, for that many beneficiaries) through the
real issuance service — stored as ``certdist`` stores them — and then streams the other
``count - distinct`` rows with ``COPY``: each row is a beneficiary of its own, with its own
preEnrollmentCode, certificateId, record id, name and mobile in the table's columns, carrying
the signed credential of template ``i % distinct``. So every row downloads (HEAD, PDF, QR,
wallet formats) and its document verifies (the signature is real), but a synthetic row's
document shows its template's beneficiary, not the row's own name; the first ``distinct``
rows are exactly what issuance makes. The render cache keys on the row's ids, so downloads
of different rows are not cache hits of each other. ``--distinct`` equal to ``--count``
signs them all (multiprocessing, ``--processes``), for a fully honest set at signing speed.

Rows go in batches of ``--batch``, one ``COPY`` for ``certificates`` and one for
``certificate_ids`` per batch and one commit each (progress with rich), then ``ANALYZE``.
The preEnrollmentCodes are ``<prefix><7 digits>``; the benchmark samples them from the table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_distribution import seed  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from certdist.config import Settings  # noqa: E402
from certdist.storage.engine import normalise_url  # noqa: E402
from certdist.storage.schema import certificates  # noqa: E402

COLUMNS = [column.name for column in certificates.columns]
_COPY_CERTIFICATES = f"COPY certificates ({', '.join(COLUMNS)}) FROM STDIN"
_COPY_IDS = "COPY certificate_ids (certificate_id, pre_enrollment_code) FROM STDIN"
_NULL = "\\N"
_CHUNK_BYTES = 8 << 20  # written to COPY in pieces of about this size


def copy_text(value: str) -> str:
    """``value`` escaped for COPY's text format."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


@dataclass(frozen=True)
class Template:
    """One really issued certificate whose signed credential synthetic rows carry."""

    certificate: str  # COPY-escaped
    key_id: str
    program_id: str
    entity_type: str
    dose: int | None
    total_doses: int | None
    dob: str
    gender: str
    meta: str  # COPY-escaped JSON

    @classmethod
    def of(cls, row: Any) -> Template:
        return cls(
            certificate=copy_text(row.certificate),
            key_id=copy_text(row.key_id),
            program_id=copy_text(row.program_id),
            entity_type=copy_text(row.entity_type),
            dose=row.dose,
            total_doses=row.total_doses,
            dob=row.dob.isoformat() if row.dob else _NULL,
            gender=copy_text(row.gender),
            meta=copy_text(json.dumps(row.meta, ensure_ascii=False, separators=(",", ":"))),
        )


def _number(value: int | None) -> str:
    return _NULL if value is None else str(value)


def synthetic_rows(
    templates: Sequence[Template],
    prefix: str,
    indexes: range,
    certificate_ids: Sequence[str],
    rng: random.Random,
    created_at: datetime,
) -> Iterator[tuple[str, str]]:
    """(certificates line, certificate_ids line) of each synthetic row, in COPY text format."""
    stamp = created_at.isoformat()
    for i, certificate_id in zip(indexes, certificate_ids, strict=True):
        t = templates[i % len(templates)]
        code = f"{prefix}{i:07d}"
        mobile = f"98{i % 100_000_000:08d}"
        fields = (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),  # id
            code,
            certificate_id,
            t.entity_type,
            t.program_id,
            _number(t.dose),
            _number(t.total_doses),
            f"Load Person {i:07d}",  # name
            t.dob,
            t.gender,
            f"+91{mobile}",  # mobile, normalised as issuance stores it
            f'["tel:{mobile}"]',  # contacts
            t.certificate,
            t.key_id,
            t.meta,
            _NULL,  # upload_id
            _NULL,  # previous_certificate_id
            _NULL,  # superseded_by
            _NULL,  # revoked_at
            _NULL,  # revocation_reason
            stamp,  # created_at
            stamp,  # updated_at
        )
        yield "\t".join(fields) + "\n", f"{certificate_id}\t{code}\n"


def _write(copy: Any, lines: Iterator[str]) -> None:
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= _CHUNK_BYTES:
            copy.write("".join(buffer).encode())
            buffer, size = [], 0
    if buffer:
        copy.write("".join(buffer).encode())


def fleet_settings(directory: Path | None) -> Settings:
    """The settings every app of a loopback fleet runs with (deploy/loopback/fleet)."""
    sys.path.insert(0, str(ROOT / "deploy" / "loopback"))
    from fleet.layout import Layout

    env = Layout.load(directory).app_environment()
    os.environ.update({k: v for k, v in env.items() if k.startswith("CERTDIST_")})
    return Settings()


def load(
    settings: Settings,
    count: int,
    *,
    distinct: int,
    batch: int,
    processes: int,
    prefix: str,
    progress: bool = True,
) -> dict[str, float]:
    """Issue ``distinct`` certificates, COPY the rest up to ``count``; returns timings (s)."""
    url = normalise_url(settings.resolved_database_url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("the loader writes with PostgreSQL's COPY: give a PostgreSQL database")
    distinct = min(distinct, count)
    timings: dict[str, float] = {}
    began = time.perf_counter()
    # The templates: really issued (and stored) through the issuance service, in processes.
    codes = [f"{prefix}{i:07d}" for i in range(distinct)]
    seed(settings, distinct, max(1, min(processes, distinct // 50)), doses=1, codes=codes)
    timings["sign_and_issue"] = time.perf_counter() - began
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(certificates).where(certificates.c.pre_enrollment_code.in_(codes))
            ).all()
            taken = set(
                connection.execute(text("SELECT certificate_id FROM certificate_ids")).scalars()
            )
        by_code = {row.pre_enrollment_code: row for row in rows}
        templates = [Template.of(by_code[code]) for code in codes]
        rng = random.Random(f"{prefix}:{count}")
        started = time.perf_counter()
        ids = [
            str(n)
            for n in rng.sample(range(10**11, 10**12), count - distinct + len(taken))
            if str(n) not in taken
        ][: count - distinct]
        created_at = datetime.now(UTC)
        copied = time.perf_counter()
        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), disable=not progress,
        ) as bar:  # fmt: skip
            task = bar.add_task("COPY certificates", total=count, completed=distinct)
            for start in range(distinct, count, batch):
                indexes = range(start, min(start + batch, count))
                lines = list(
                    synthetic_rows(
                        templates,
                        prefix,
                        indexes,
                        ids[start - distinct : indexes.stop - distinct],
                        rng,
                        created_at,
                    )
                )
                with engine.connect() as connection:
                    raw = connection.connection.driver_connection
                    assert raw is not None
                    with raw.cursor() as cursor:
                        with cursor.copy(_COPY_IDS) as copy:
                            _write(copy, (pair[1] for pair in lines))
                        with cursor.copy(_COPY_CERTIFICATES) as copy:
                            _write(copy, (pair[0] for pair in lines))
                    raw.commit()  # COPY ran on the driver's connection, past SQLAlchemy
                bar.update(task, completed=indexes.stop)
        timings["copy"] = time.perf_counter() - copied
        timings["ids"] = copied - started
        started = time.perf_counter()
        with engine.connect() as connection:
            connection.execute(text("ANALYZE certificates"))
            connection.execute(text("ANALYZE certificate_ids"))
            connection.commit()
            total = connection.execute(text("SELECT count(*) FROM certificates")).scalar_one()
        timings["analyze"] = time.perf_counter() - started
    finally:
        engine.dispose()
    timings["total"] = time.perf_counter() - began
    timings["rows_in_table"] = float(total)
    return timings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="certificates in all")
    parser.add_argument(
        "--distinct", type=int, default=1000,
        help="certificates issued and signed for real; the rest carry one of theirs",
    )  # fmt: skip
    parser.add_argument("--batch", type=int, default=50_000, help="rows per COPY and commit")
    parser.add_argument("--processes", type=int, default=2, help="signing processes")
    parser.add_argument(
        "--prefix", help="preEnrollmentCode prefix (default LD + 6 random hex digits)"
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--fleet", nargs="?", const="", metavar="DIR",
        help="a loopback fleet's database and keys (default: the newest `scripts/fleet up`)",
    )  # fmt: skip
    target.add_argument("--database-url", help="a PostgreSQL database of certdist")
    parser.add_argument("--data-dir", type=Path, help="with --database-url: certdist's data folder")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.count < 1 or args.distinct < 1 or args.batch < 1:
        parser.error("--count, --distinct and --batch must be positive")
    if args.fleet is not None:
        settings = fleet_settings(Path(args.fleet) if args.fleet else None)
    else:
        if args.data_dir is None:
            parser.error("--database-url needs --data-dir (the keys to sign with)")
        settings = Settings(database_url=args.database_url, data_dir=args.data_dir)
    prefix = args.prefix or f"LD{uuid.uuid4().hex[:6].upper()}"
    timings = load(
        settings,
        args.count,
        distinct=args.distinct,
        batch=args.batch,
        processes=args.processes,
        prefix=prefix,
        progress=not args.no_progress,
    )
    print(
        f"loaded {args.count:,} certificates (prefix {prefix}, {args.distinct:,} signed) in "
        f"{timings['total']:.1f} s: issue+sign {timings['sign_and_issue']:.1f} s, ids "
        f"{timings['ids']:.1f} s, COPY {timings['copy']:.1f} s "
        f"({(args.count - min(args.distinct, args.count)) / max(timings['copy'], 1e-9):,.0f} "
        f"rows/s), ANALYZE {timings['analyze']:.1f} s; the table holds "
        f"{int(timings['rows_in_table']):,} rows"
    )


if __name__ == "__main__":
    main()
