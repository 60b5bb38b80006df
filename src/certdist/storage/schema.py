"""The tables of certdist, as SQLAlchemy Core metadata.

This is what the code queries; the Alembic migrations under ``migrations/versions`` are what
creates it, and a test compares the two so they cannot drift apart.

Rules that shape it (docs/architecture.md, “Running many processes”):

* ``certificates`` is hash-partitioned on ``pre_enrollment_code`` on PostgreSQL, so every
  primary or unique key on it starts with that column, and nothing references it by foreign key.
* Global uniqueness of ``certificate_id`` lives in the small ``certificate_ids`` lookup table,
  written in the same transaction as the certificate.
* The signed credential is ``Text`` (never JSONB), so it stays byte-identical to what was signed.
* Ids and timestamps come from the application, never from sequences or ``now()``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from certdist.storage.sqltypes import JSONText, UTCDateTime

#: Number of hash partitions of ``certificates`` on PostgreSQL (fixed by migration 0001).
CERTIFICATE_PARTITIONS = 16

#: Rows that are neither superseded nor revoked; at most one per (code, type, programme, dose).
LIVE_PREDICATE = "superseded_by IS NULL AND revoked_at IS NULL"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

certificates = Table(
    "certificates",
    metadata,
    Column("id", Text, nullable=False),
    Column("pre_enrollment_code", Text, nullable=False),
    Column("certificate_id", Text, nullable=False),
    Column("entity_type", Text, nullable=False),
    Column("program_id", Text, nullable=False),
    Column("dose", Integer, nullable=True),
    Column("total_doses", Integer, nullable=True),
    Column("name", Text, nullable=False),
    Column("dob", Date, nullable=True),
    Column("gender", Text, nullable=False),
    Column("mobile", Text, nullable=True),
    Column("contacts", JSONText, nullable=False),
    Column("certificate", Text, nullable=False),
    Column("key_id", Text, nullable=False),
    Column("meta", JSONText, nullable=False),
    Column("upload_id", Text, nullable=True),
    Column("previous_certificate_id", Text, nullable=True),
    Column("superseded_by", Text, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("revocation_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("pre_enrollment_code", "id", name="pk_certificates"),
    Index("ix_certificates_pre_enrollment_code", "pre_enrollment_code"),
    Index("ix_certificates_mobile", "mobile"),
    Index(
        "uq_certificates_live_dose",
        "pre_enrollment_code",
        "entity_type",
        "program_id",
        "dose",
        unique=True,
        sqlite_where=text(LIVE_PREDICATE),
        postgresql_where=text(LIVE_PREDICATE),
    ),
    postgresql_partition_by="HASH (pre_enrollment_code)",
)

certificate_ids = Table(
    "certificate_ids",
    metadata,
    Column("certificate_id", Text, nullable=False),
    Column("pre_enrollment_code", Text, nullable=False),
    PrimaryKeyConstraint("certificate_id", name="pk_certificate_ids"),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("entity_type", Text, nullable=False),
    Column("uploaded_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("status", Text, nullable=False),
    Column("total_rows", Integer, nullable=False),
    Column("succeeded", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    # Written with the cursor after every chunk of rows (upload_jobs); an upload from before
    # jobs (migration 0013) still "processing" whose heartbeat is old lost its process.
    Column("heartbeat_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="pk_uploads"),
    Index("ix_uploads_created_at", "created_at"),
    Index("ix_uploads_uploaded_by_created_at", "uploaded_by", "created_at"),
)


def _upload_id(table: str) -> Column[str]:
    """The upload a row belongs to; removed with it."""
    return Column(
        "upload_id",
        Text,
        ForeignKey("uploads.id", name=f"fk_{table}_upload_id_uploads", ondelete="CASCADE"),
        nullable=False,
    )


upload_errors = Table(
    "upload_errors",
    metadata,
    _upload_id("upload_errors"),
    Column("row", Integer, nullable=False),
    Column("pre_enrollment_code", Text, nullable=False),
    Column("errors", JSONText, nullable=False),
    PrimaryKeyConstraint("upload_id", "row", name="pk_upload_errors"),
)

#: The work left of a bulk upload still processing: its CSV (dropped when the upload ends),
#: the cursor (CSV records consumed, with their certificates, totals and row errors stored)
#: and the lease of the process working on it. An expired lease is claimed by another
#: process, which resumes from the cursor.
upload_jobs = Table(
    "upload_jobs",
    metadata,
    _upload_id("upload_jobs"),
    Column("program_id", Text, nullable=False),
    Column("csv", LargeBinary, nullable=False),
    Column("total_rows", Integer, nullable=False),
    Column("next_record", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", Text, nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("upload_id", name="pk_upload_jobs"),
    Index("ix_upload_jobs_lease_expires_at", "lease_expires_at"),
)

#: Every certificate download: who, which certificate, which format, when. Append-only: the
#: migration installs triggers that refuse UPDATE and DELETE.
download_audit = Table(
    "download_audit",
    metadata,
    Column("id", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("issuer", Text, nullable=False),
    Column("permission", Text, nullable=False),
    Column("certificate_id", Text, nullable=False),
    Column("pre_enrollment_code", Text, nullable=False),
    Column("format", Text, nullable=False),
    PrimaryKeyConstraint("id", name="pk_download_audit"),
    Index("ix_download_audit_pre_enrollment_code_at", "pre_enrollment_code", "at"),
    Index("ix_download_audit_at", "at"),
)

# --- shared short-lived state (migration 0003) ----------------------------------------------

#: Sessions, OTP challenges and rate-limit counters when no Redis is configured (storage/state.py).
#: A row holds a value or a counter; rows past ``expires_at`` read as absent.
shared_state = Table(
    "shared_state",
    metadata,
    Column("key", Text, nullable=False),
    Column("value", LargeBinary, nullable=True),
    Column("counter", Integer, nullable=True),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("key", name="pk_shared_state"),
    Index("ix_shared_state_expires_at", "expires_at"),
)

# --- citizen portal (migration 0004) --------------------------------------------------------

#: The development SMS backend: messages are stored here instead of being sent, so a tester
#: reads the one-time code on the developer page or with ``certdist sms inbox``. Refused in
#: production mode, so real numbers and codes never rest here.
sms_outbox = Table(
    "sms_outbox",
    metadata,
    Column("id", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("body", Text, nullable=False),
    PrimaryKeyConstraint("id", name="pk_sms_outbox"),
    Index("ix_sms_outbox_created_at", "created_at"),
)

# --- durable outbox, mail and share links (migration 0005) ----------------------------------

#: Mail and SMS waiting to leave, being sent, sent or given up (storage/outbox.py). A worker
#: claims a row by setting ``status='sending'`` and a lease; a lapsed lease makes it claimable
#: again. ``idempotency_key`` makes enqueueing the same message twice a no-op.
outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("payload", JSONText, nullable=False),
    Column("attachment", LargeBinary, nullable=True),
    Column("idempotency_key", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_by", Text, nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    Index("uq_outbox_messages_idempotency_key", "idempotency_key", unique=True),
    Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
)

#: Share links (storage/share_links.py): only a keyed hash of the token and of the owner's
#: mobile number is stored; ``failed_attempts`` counts wrong passcodes over the link's life.
share_links = Table(
    "share_links",
    metadata,
    Column("id", Text, nullable=False),
    Column("token_hash", Text, nullable=False),
    Column("owner_hash", Text, nullable=False),
    Column("certificate_id", Text, nullable=False),
    Column("pre_enrollment_code", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("passcode_hash", Text, nullable=True),
    Column("failed_attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    # SMART Health Links (migration 0010): flags and label; the key is never stored.
    Column("flags", Text, nullable=True),
    Column("label", Text, nullable=True),
    PrimaryKeyConstraint("id", name="pk_share_links"),
    Index("uq_share_links_token_hash", "token_hash", unique=True),
    Index("ix_share_links_owner_hash_created_at", "owner_hash", "created_at"),
)

#: Each use of a share link (opened, document downloaded, wrong passcode), for its owner.
share_link_access = Table(
    "share_link_access",
    metadata,
    Column("id", Text, nullable=False),
    Column(
        "link_id",
        Text,
        ForeignKey(
            "share_links.id", name="fk_share_link_access_link_id_share_links", ondelete="CASCADE"
        ),
        nullable=False,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("event", Text, nullable=False),
    Column("recipient", Text, nullable=True),  # what a SMART Health Link's receiver sent
    PrimaryKeyConstraint("id", name="pk_share_link_access"),
    Index("ix_share_link_access_link_id_at", "link_id", "at"),
)

# --- DigiLocker and partner API (migration 0006) --------------------------------------------

#: DigiLocker ``txn`` values already answered, per operation, until they can no longer pass
#: the timestamp check (a replayed request is refused in every server process).
digilocker_transactions = Table(
    "digilocker_transactions",
    metadata,
    Column("operation", Text, nullable=False),
    Column("txn", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("operation", "txn", name="pk_digilocker_transactions"),
    Index("ix_digilocker_transactions_expires_at", "expires_at"),
)

#: Which document URI was issued to which DigiLocker account (a keyed hash of its id), so a
#: Pull Doc request serves only URIs that Pull URI gave that same account.
digilocker_issued = Table(
    "digilocker_issued",
    metadata,
    Column("account", Text, nullable=False),
    Column("uri", Text, nullable=False),
    Column("certificate_id", Text, nullable=False),
    Column("pre_enrollment_code", Text, nullable=False),
    Column("issued_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("account", "uri", name="pk_digilocker_issued"),
)

#: Every DigiLocker pull and partner call, answered or refused. Append-only (triggers), no
#: personal data: ``actor`` is a keyed hash (DigiLocker) or a partner's token username.
integration_audit = Table(
    "integration_audit",
    metadata,
    Column("id", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("channel", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("txn", Text, nullable=True),
    Column("outcome", Text, nullable=False),
    Column("certificate_id", Text, nullable=True),
    PrimaryKeyConstraint("id", name="pk_integration_audit"),
    Index("ix_integration_audit_at", "at"),
    Index("ix_integration_audit_actor_at", "actor", "at"),
)

# --- batch printing (migration 0007) --------------------------------------------------------


class credential_facility(FunctionElement[str]):
    """``evidence[0].facility.name`` of a stored credential (the JSON text of ``column``).

    Compiled per dialect (``json_extract`` / ``::jsonb #>>``) to exactly the expression of the
    index below, which is what lets SQLite and PostgreSQL use that index for the query.
    """

    type = Text()
    inherit_cache = True
    name = "credential_facility"


class credential_day(FunctionElement[str]):
    """The calendar day of ``evidence[0].date`` as written (its first 10 characters)."""

    type = Text()
    inherit_cache = True
    name = "credential_day"


@compiles(credential_facility, "sqlite")
def _sqlite_facility(element: credential_facility, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"json_extract({column}, '$.evidence[0].facility.name')"


@compiles(credential_facility, "postgresql")
def _postgresql_facility(element: credential_facility, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    # Written the way PostgreSQL prints the index expression back, so that comparing this
    # module with the migrated database finds no difference.
    return f"({column}::jsonb #>> '{{evidence,0,facility,name}}'::text[])"


@compiles(credential_day, "sqlite")
def _sqlite_day(element: credential_day, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"substr(json_extract({column}, '$.evidence[0].date'), 1, 10)"


@compiles(credential_day, "postgresql")
def _postgresql_day(element: credential_day, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"\"left\"({column}::jsonb #>> '{{evidence,0,date}}'::text[], 10)"


#: Certificates of one facility on one day, in keyset order (batch printing): the facility
#: and the date live only inside the signed credential, so the index is on expressions.
#: Created on the partitioned parent, PostgreSQL builds it on every partition.
certificates_facility_day = Index(
    "ix_certificates_facility_day",
    credential_facility(certificates.c.certificate),
    credential_day(certificates.c.certificate),
    certificates.c.pre_enrollment_code,
    certificates.c.id,
)

#: Batch print jobs (storage/print_jobs.py). A worker claims a queued row by setting
#: ``status='running'`` and ``claimed_by``; ``heartbeat_at`` moves while it renders, so a row
#: whose heartbeat stopped (its worker died) can be claimed again.
print_jobs = Table(
    "print_jobs",
    metadata,
    Column("id", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("owner_issuer", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("selection", JSONText, nullable=False),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("unknown", JSONText, nullable=False),
    Column("error", Text, nullable=True),
    Column("output_file", Text, nullable=True),
    Column("output_bytes", Integer, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("claimed_by", Text, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    PrimaryKeyConstraint("id", name="pk_print_jobs"),
    Index("ix_print_jobs_status_created_at", "status", "created_at"),
    Index("ix_print_jobs_owner_created_at", "owner", "created_at"),
)

# --- revocation lists (migration 0008) ------------------------------------------------------

#: Revoked or superseded certificates, newest first: what revocation lists read. Partial, so
#: it holds only the (few) withdrawn rows and live issuance never pays for it.
certificates_withdrawn = Index(
    "ix_certificates_withdrawn",
    certificates.c.entity_type,
    certificates.c.updated_at,
    sqlite_where=text(f"NOT ({LIVE_PREDICATE})"),
    postgresql_where=text(f"NOT ({LIVE_PREDICATE})"),
)

# --- Bitstring Status Lists (migration 0011) ------------------------------------------------


def _list_entries(name: str, claimed_at: str) -> Table:
    """A table of claimed ``(list_id, list_index)`` pairs, each with its certificate.

    The primary key is the claim: an index is taken by inserting its row, so two issuers that
    draw the same index cannot both have it, and no row is ever deleted (no index is reused).
    Rows of certificates never stored (their issuance failed after the draw) stay: their bit
    is never set.
    """
    return Table(
        name,
        metadata,
        Column("list_id", Integer, nullable=False),
        Column("list_index", Integer, nullable=False),
        Column("certificate_id", Text, nullable=False),
        Column(claimed_at, UTCDateTime, nullable=False),
        PrimaryKeyConstraint("list_id", "list_index", name=f"pk_{name}"),
        Index(f"ix_{name}_certificate_id", "certificate_id"),
    )


#: The index each DIVOC credential was given in a status list (formats/status_list.py).
status_list_entries = _list_entries("status_list_entries", "allocated_at")

# --- Token Status Lists (migration 0012) ----------------------------------------------------

#: The index each SD-JWT VC copy was given in a Token Status List (formats/token_status_list.py),
#: one row per copy (the copies of a batch never share one).
token_status_entries = _list_entries("token_status_entries", "issued_at")
