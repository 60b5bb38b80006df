"""Identifiers of records the application creates: UUIDs made here, not database sequences,
so any process of a fleet can create rows without asking a shared counter."""

from __future__ import annotations

import uuid


def new_record_id() -> str:
    return str(uuid.uuid4())
