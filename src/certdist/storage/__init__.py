"""Persistence: the repository protocols and their SQLAlchemy implementation.

``Database(url)`` is the entry point; it hands out the repositories.
"""

from certdist.storage.database import Database

__all__ = ["Database"]
