"""A database backend whose vendor is "mysql" (SQLite underneath), for the system check
that refuses databases migrator has no dialect for: MySQL itself cannot run here."""

from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper


class DatabaseWrapper(SQLiteWrapper):
    vendor = "mysql"
