"""Executing deployments: steps, batching, locks, backups, rollback and dry runs."""

from .runner import execute

__all__ = ["execute"]
