"""The one entry point to storage: a database URL in, repositories out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Engine

from certdist.errors import ConfigurationError
from certdist.storage.audit import SqlDownloadAudit
from certdist.storage.certificates import SqlCertificateRepository
from certdist.storage.commit_deadline import CommitDeadline
from certdist.storage.dev_sms_inbox import DevSmsInbox
from certdist.storage.engine import (
    StatementObserver,
    build_engine,
    build_read_engine,
    normalise_url,
    observe_statements,
)
from certdist.storage.integrations import SqlIntegrationRepository
from certdist.storage.outbox import CompanionMessages, SqlOutbox
from certdist.storage.print_jobs import SqlPrintJobRepository, SqlPrintSelection
from certdist.storage.replica import ReplicaReads
from certdist.storage.schema import token_status_entries
from certdist.storage.share_links import SqlShareLinks
from certdist.storage.status_lists import SqlStatusLists
from certdist.storage.transactions import Transactions
from certdist.storage.upload_jobs import SqlUploadJobRepository
from certdist.storage.uploads import SqlUploadRepository


class Database:
    """A SQLite file or a PostgreSQL database, with a deadline on every call.

    ``url`` is ``sqlite:///<file>`` (the parent folder is created) or
    ``postgresql+psycopg://…`` (``postgresql://`` is accepted and pinned to psycopg 3).
    ``replica_url`` names a standby for the reads that may be a moment old
    (``storage/replica.py``); ``on_replica_fallback`` is called each time the primary answers
    one of them instead.
    ``deadline_seconds`` bounds connecting, waiting for locks, running a statement and (on
    PostgreSQL, with a synchronous standby away) committing;
    whatever exceeds it, or finds the server gone, raises ``StorageUnavailable``.
    """

    def __init__(
        self,
        url: str,
        *,
        deadline_seconds: float = 5.0,
        replica_url: str | None = None,
        on_replica_fallback: Callable[[], None] = lambda: None,
    ) -> None:
        self._url = normalise_url(url)
        self._deadline_seconds = deadline_seconds
        self._engine = build_engine(self._url, deadline_seconds)
        self._read_engine = build_read_engine(self._url, deadline_seconds)
        postgresql = self._engine.dialect.name == "postgresql"
        commit_deadline = CommitDeadline(deadline_seconds) if postgresql else None
        self._replica: ReplicaReads | None = None
        if replica_url:
            # The standby serves only prepared reads.
            replica_engine = build_read_engine(normalise_url(replica_url), deadline_seconds)
            if not postgresql or replica_engine is None:
                raise ConfigurationError("a replica URL needs PostgreSQL for both databases")
            self._replica = ReplicaReads(replica_engine, on_fallback=on_replica_fallback)
        self._transactions = Transactions(
            self._engine, commit_deadline, self._replica, self._read_engine
        )
        self._audit: SqlDownloadAudit | None = None
        self._audit_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Database({self._url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> Engine:
        """The underlying engine, for code that needs SQL the repositories do not offer."""
        return self._engine

    def observe(self, observer: StatementObserver) -> None:
        """Have ``observer`` wrap every statement: those the engine executes and the prepared
        reads, which run without its events (tracing: ``certdist/tracing.py``)."""
        observe_statements(self._engine, observer)
        self._transactions.read_observer = observer

    @property
    def transactions(self) -> Transactions:
        """Short transactions, outages mapped to ``StorageUnavailable`` (for new repositories)."""
        return self._transactions

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def pool_usage(self) -> tuple[int, int] | None:
        """This process's pooled connections to the primary, for transactions and prepared
        reads together: (in use, pool size); None for a pool that keeps no count."""
        in_use = size = 0
        for engine in self._primary_engines():
            pool = engine.pool
            checkedout, pool_size = getattr(pool, "checkedout", None), getattr(pool, "size", None)
            if not callable(checkedout) or not callable(pool_size):
                return None
            in_use, size = in_use + int(checkedout()), size + int(pool_size())
        return in_use, size

    def _primary_engines(self) -> list[Engine]:
        return [self._engine] if self._read_engine is None else [self._engine, self._read_engine]

    def migrate(self) -> None:
        """Bring the schema up to the newest migration shipped with certdist (idempotent)."""
        # Imported here, not at the top: Alembic costs ~11 MB per process, and server workers
        # never migrate (the parent process did).
        from certdist.storage import migrate

        migrate.upgrade_to_head(self._transactions, round(self._deadline_seconds * 1000))

    def current_revision(self) -> str | None:
        """The schema revision of the database, None if it was never migrated."""
        from certdist.storage import migrate

        return migrate.current_revision(self._transactions)

    @staticmethod
    def head_revision() -> str:
        """The schema revision this version of certdist expects."""
        from certdist.storage import migrate

        return migrate.head_revision()

    def certificates(
        self, *, companions: CompanionMessages | None = None
    ) -> SqlCertificateRepository:
        """``companions`` gives the messages to enqueue with each batch of new certificates."""
        return SqlCertificateRepository(self._transactions, companions=companions)

    def status_lists(self) -> SqlStatusLists:
        """The Bitstring Status List indexes of the DIVOC credentials."""
        return SqlStatusLists(self._transactions)

    def token_status_lists(self) -> SqlStatusLists:
        """The Token Status List indexes of the SD-JWT VC copies."""
        return SqlStatusLists(self._transactions, token_status_entries)

    def outbox(self) -> SqlOutbox:
        return SqlOutbox(self._transactions)

    def share_links(self) -> SqlShareLinks:
        return SqlShareLinks(self._transactions)

    def integrations(self) -> SqlIntegrationRepository:
        """DigiLocker transactions and issued URIs; the integration audit."""
        return SqlIntegrationRepository(self._transactions)

    def uploads(self) -> SqlUploadRepository:
        return SqlUploadRepository(self._transactions)

    def upload_jobs(self) -> SqlUploadJobRepository:
        return SqlUploadJobRepository(self._transactions)

    def dev_sms_inbox(self) -> DevSmsInbox:
        """Stored SMS of the development backend (the citizen portal's one-time codes)."""
        return DevSmsInbox(self._transactions)

    def print_jobs(self) -> SqlPrintJobRepository:
        return SqlPrintJobRepository(self._transactions)

    def print_selection(self) -> SqlPrintSelection:
        return SqlPrintSelection(self._transactions)

    def audit(self) -> SqlDownloadAudit:
        """The download audit; one writer thread per database, started on first use."""
        with self._audit_lock:
            if self._audit is None:
                self._audit = SqlDownloadAudit(self._transactions)
            return self._audit

    def dispose(self) -> None:
        """Write queued audit entries, then close every pooled connection; the object can
        still be used and reconnects."""
        with self._audit_lock:
            audit, self._audit = self._audit, None
        if audit is not None:
            audit.close()
        for engine in self._primary_engines():
            engine.dispose()
        if self._replica is not None:
            self._replica.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.dispose()
