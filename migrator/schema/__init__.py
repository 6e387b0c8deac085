"""Schemas of target databases: capture, diff and table content checksums."""

from .capture import capture_schema, table_checksum, user_tables
from .diff import diff_schemas

__all__ = ["capture_schema", "diff_schemas", "table_checksum", "user_tables"]
