"""Persistence: the repository protocols and their SQLAlchemy implementation."""
