"""The tables of certdist, as SQLAlchemy Core metadata.

This is what the code queries; the Alembic migrations under ``migrations/versions`` are what
creates it, and a test compares the two so they cannot drift apart.

Rules from DESIGN §5 that shape it:

* ``certificates`` is hash-partitioned on ``pre_enrollment_code`` on PostgreSQL, so every
  primary or unique key on it starts with that column, and nothing references it by foreign key.
* Global uniqueness of ``certificate_id`` lives in the small ``certificate_ids`` lookup table,
  written in the same transaction as the certificate.
* The signed credential is ``Text`` (never JSONB), so it stays byte-identical to what was signed.
* Ids and timestamps come from the application, never from sequences or ``now()``.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)

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
    PrimaryKeyConstraint("id", name="pk_uploads"),
    Index("ix_uploads_created_at", "created_at"),
    Index("ix_uploads_uploaded_by_created_at", "uploaded_by", "created_at"),
)

upload_errors = Table(
    "upload_errors",
    metadata,
    Column(
        "upload_id",
        Text,
        ForeignKey("uploads.id", name="fk_upload_errors_upload_id_uploads", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("row", Integer, nullable=False),
    Column("pre_enrollment_code", Text, nullable=False),
    Column("errors", JSONText, nullable=False),
    PrimaryKeyConstraint("upload_id", "row", name="pk_upload_errors"),
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
