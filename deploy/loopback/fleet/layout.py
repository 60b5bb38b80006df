"""Where each part of a fleet lives: its folder, its files and its ports.

A fleet is one folder; ``layout.json`` inside it records how it was made (the folder is all
``status`` and ``down`` need), and ``.fleet/current`` in the checkout names the folder of the
newest ``up`` so that the commands work without ``--dir``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
CURRENT = REPO / ".fleet" / "current"

# High ports, away from the machine's own servers (PostgreSQL 5432, Redis 6379); an offset
# moves them all, so that several fleets (or a test's) can run side by side.
PG_PRIMARY_PORT = 55432
PG_STANDBY_PORT = 55433
REDIS_PORT = 56379
NGINX_PORT = 58080
FIRST_APP_PORT = 58100

DATABASE = "certdist"


@dataclass(frozen=True)
class Layout:
    root: Path
    apps: int = 2
    workers: int = 1
    port_offset: int = 0

    @property
    def pg_primary_port(self) -> int:
        return PG_PRIMARY_PORT + self.port_offset

    @property
    def pg_standby_port(self) -> int:
        return PG_STANDBY_PORT + self.port_offset

    @property
    def redis_port(self) -> int:
        return REDIS_PORT + self.port_offset

    @property
    def nginx_port(self) -> int:
        return NGINX_PORT + self.port_offset

    def app_port(self, index: int) -> int:
        return FIRST_APP_PORT + self.port_offset + index

    def ports(self) -> list[int]:
        fixed = [self.pg_primary_port, self.pg_standby_port, self.redis_port, self.nginx_port]
        return fixed + [self.app_port(i) for i in range(self.apps)]

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def database_url(self) -> str:
        # One libpq multi-host DSN: whichever server accepts writes is used, so a promoted
        # standby is found without a configuration change (DESIGN §5).
        hosts = "&".join(
            f"host=127.0.0.1:{port}" for port in (self.pg_primary_port, self.pg_standby_port)
        )
        return f"postgresql://postgres@/{DATABASE}?{hosts}&target_session_attrs=read-write"

    @property
    def replica_url(self) -> str:
        """The standby, for the download path's reads (the primary answers what it lacks)."""
        return f"postgresql://postgres@127.0.0.1:{self.pg_standby_port}/{DATABASE}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    # --- folders and files ----------------------------------------------------------------

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pg_logs(self) -> Path:
        return self.root / "logs" / "postgres"  # written by the postgres user

    @property
    def pg_primary(self) -> Path:
        return self.root / "pg-primary"

    @property
    def pg_standby(self) -> Path:
        return self.root / "pg-standby"

    @property
    def pg_sockets(self) -> Path:
        return self.root / "pg-sockets"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def nginx_dir(self) -> Path:
        return self.root / "nginx"

    @property
    def app_data(self) -> Path:
        return self.root / "app-data"

    @property
    def supervisor_pid(self) -> Path:
        return self.root / "supervisor.pid"

    @property
    def apps_state(self) -> Path:
        return self.root / "apps.json"

    def app_environment(self) -> dict[str, str]:
        """The environment of every certdist process of the fleet: the caller's, without
        any CERTDIST_* setting of its own, plus the fleet's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTDIST_")}
        env.update(
            {
                "CERTDIST_DATA_DIR": str(self.app_data),
                "CERTDIST_DATABASE_URL": self.database_url,
                "CERTDIST_DATABASE_REPLICA_URL": self.replica_url,
                "CERTDIST_REDIS_URL": self.redis_url,
                "CERTDIST_PUBLIC_URL": self.public_url,
                "CERTDIST_FORWARDED_ALLOW_IPS": '["127.0.0.1"]',
            }
        )
        return env

    # --- persistence ----------------------------------------------------------------------

    def save(self) -> None:
        data = asdict(self) | {"root": str(self.root)}
        (self.root / "layout.json").write_text(json.dumps(data, indent=2) + "\n")
        CURRENT.parent.mkdir(exist_ok=True)
        CURRENT.write_text(f"{self.root}\n")

    @classmethod
    def load(cls, root: Path | None) -> Layout:
        """The fleet in ``root``, or the newest one ``up`` made when ``root`` is None."""
        if root is None:
            if not CURRENT.exists():
                raise SystemExit("no fleet: run `scripts/fleet up` (or pass --dir)")
            root = Path(CURRENT.read_text().strip())
        try:
            data = json.loads((root / "layout.json").read_text())
        except FileNotFoundError:
            raise SystemExit(f"no fleet in {root} (no layout.json)") from None
        return cls(
            root=Path(data["root"]),
            apps=int(data["apps"]),
            workers=int(data["workers"]),
            port_offset=int(data["port_offset"]),
        )
