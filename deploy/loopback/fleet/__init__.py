"""The loopback fleet: many certdist processes behind nginx, a PostgreSQL 15 primary with a
streaming hot standby, and Redis, all on ports and folders of their own on this machine
(docs/fleet.md). ``scripts/fleet up|down|status`` runs it."""
