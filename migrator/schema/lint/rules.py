"""Every lint check, declared once (ids are stable: never reuse or renumber one)."""

from __future__ import annotations

from .registry import Check, register

PG = ("postgresql",)

# -- destructive -------------------------------------------------------------------------
DROP_TABLE = register(
    Check(
        "S101",
        "drop-table",
        "error",
        "S",
        "Table dropped",
        "The table and its data are gone; an application still reading it fails.",
        "Stop using the table in a release first, then drop it in a later one "
        "(expand/contract); keep a backup (MIGRATOR['BACKUP']).",
        squawk="ban-drop-table",
    )
)
DROP_COLUMN = register(
    Check(
        "S102",
        "drop-column",
        "error",
        "S",
        "Column dropped",
        "The column's data is gone and queries naming it fail.",
        "Stop reading and writing the column in a release first, then drop it.",
        squawk="ban-drop-column",
    )
)
DROP_SCHEMA = register(
    Check(
        "S103",
        "drop-schema",
        "error",
        "S",
        "Schema dropped",
        "Every object of the schema is gone.",
        "Drop the objects one by one, each after the application stopped using it.",
        vendors=PG,
    )
)
TRUNCATE_CASCADE = register(
    Check(
        "S104",
        "truncate-cascade",
        "error",
        "S",
        "TRUNCATE ... CASCADE",
        "Empties every table that references this one too, recursively.",
        "TRUNCATE the tables you mean, by name, without CASCADE.",
        vendors=PG,
        squawk="ban-truncate-cascade",
    )
)
# -- backward-incompatible ---------------------------------------------------------------
RENAME_TABLE = register(
    Check(
        "S111",
        "rename-table",
        "warning",
        "S",
        "Table renamed",
        "An application written for the old name fails as soon as this runs.",
        "Create the new table (or a view with the new name), move readers, then drop the "
        "old name in a later release.",
        squawk="renaming-table",
    )
)
RENAME_COLUMN = register(
    Check(
        "S112",
        "rename-column",
        "warning",
        "S",
        "Column renamed",
        "Queries naming the old column fail as soon as this runs.",
        "Add the new column, write both, backfill, move readers, then drop the old one.",
        squawk="renaming-column",
    )
)
CHANGE_TYPE = register(
    Check(
        "S113",
        "change-column-type",
        "warning",
        "S",
        "Column type changed",
        "Most type changes rewrite the table under an ACCESS EXCLUSIVE lock, and a narrower "
        "type can reject values the application writes.",
        "Add a column of the new type, backfill it in batches (a transform), switch readers, "
        "drop the old column.",
        squawk="changing-column-type",
    )
)
SET_NOT_NULL = register(
    Check(
        "S114",
        "set-not-null",
        "warning",
        "S",
        "SET NOT NULL",
        "Scans the whole table under an ACCESS EXCLUSIVE lock, and fails if a NULL exists; "
        "an application that writes NULL breaks.",
        "Add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL "
        "(PostgreSQL 12+ skips the scan).",
        vendors=PG,
        squawk="adding-not-nullable-field",
    )
)
REQUIRED_COLUMN = register(
    Check(
        "S115",
        "add-required-column",
        "error",
        "S",
        "NOT NULL column without a default",
        "Fails on a table with rows, and an application that does not know the column "
        "cannot insert any more.",
        "Add the column nullable (or with a default), backfill, then add NOT NULL.",
        squawk="adding-required-field",
    )
)
SET_SCHEMA = register(
    Check(
        "S116",
        "set-schema",
        "warning",
        "S",
        "Object moved to another schema",
        "Queries using the old qualified name (or a search_path without the new schema) fail.",
        "Leave a view or synonym under the old name until every reader moved.",
        vendors=PG,
    )
)
DROP_OBJECT = register(
    Check(
        "S117",
        "drop-view-function-type",
        "warning",
        "S",
        "View, function or type dropped",
        "Queries and code that use it fail.",
        "Drop it in a release after the application stopped using it.",
        vendors=PG,
    )
)
REVOKE = register(
    Check(
        "S118",
        "revoke",
        "warning",
        "S",
        "Privilege revoked",
        "A role the application connects as may lose access.",
        "Check which roles use the privilege before revoking it.",
        vendors=PG,
    )
)
ENUM_VALUE = register(
    Check(
        "S119",
        "enum-value-added",
        "info",
        "S",
        "Enum label added",
        "An application (or a rolled-back one) that does not know the label may fail on "
        "rows that use it.",
        "Deploy readers that accept the label before writers start using it.",
        vendors=PG,
    )
)
DROP_CONSTRAINT = register(
    Check(
        "S120",
        "drop-constraint",
        "warning",
        "S",
        "Constraint dropped",
        "What it guarded (references, uniqueness, a CHECK) may stop holding; a foreign key's "
        "ON DELETE actions stop; an application rolled back to a version that relied on the "
        "database to refuse bad rows can write them.",
        "Drop it in a release after nothing relies on it; for a foreign key, make sure the "
        "application cleans up what ON DELETE did.",
        vendors=PG,
    )
)
DEFAULT_CHANGED = register(
    Check(
        "S121",
        "default-changed",
        "warning",
        "S",
        "Column default changed or dropped",
        "Inserts that leave the column out get another value; with DROP DEFAULT on a NOT "
        "NULL column they fail: the application still writing without it breaks.",
        "Have the application write the value explicitly first, then change the default.",
        vendors=PG,
    )
)
REPLACE_OBJECT = register(
    Check(
        "S122",
        "replace-view-function",
        "info",
        "S",
        "View or function replaced",
        "CREATE OR REPLACE changes what every caller gets at once, the application being "
        "deployed and the one still running alike.",
        "Create a new version under another name, move callers, drop the old one later.",
        vendors=PG,
    )
)
ALTER_SEQUENCE = register(
    Check(
        "S123",
        "alter-sequence-identity",
        "warning",
        "S",
        "Sequence or identity altered",
        "RESTART, a new increment or a changed identity can hand out keys that already "
        "exist, or change who may set them (GENERATED ALWAYS refuses explicit values).",
        "Leave sequences alone in migrations; if one must move, set it past max(id) with "
        "setval in the same transaction.",
        vendors=PG,
    )
)
ROW_SECURITY = register(
    Check(
        "S124",
        "row-level-security-reduced",
        "warning",
        "S",
        "Row-level security enabled, forced or restricted",
        "Rows vanish for roles without a permissive policy: enabling or forcing RLS, a "
        "RESTRICTIVE policy or dropping a policy can hide data from the application.",
        "Create the permissive policies the application's roles need first, then enable RLS; "
        "check which roles the application connects as.",
        vendors=PG,
    )
)
# -- locks and rewrites (PostgreSQL) -----------------------------------------------------
INDEX_LOCKS = register(
    Check(
        "S131",
        "index-not-concurrently",
        "warning",
        "S",
        "CREATE INDEX without CONCURRENTLY",
        "Blocks every write to the table (SHARE lock) while the index builds.",
        "CREATE INDEX CONCURRENTLY (migrator runs it outside a transaction by itself).",
        vendors=PG,
        squawk="require-concurrent-index-creation",
    )
)
DROP_INDEX_LOCKS = register(
    Check(
        "S132",
        "drop-index-not-concurrently",
        "warning",
        "S",
        "DROP INDEX without CONCURRENTLY",
        "Takes an ACCESS EXCLUSIVE lock on the table: every query waits.",
        "DROP INDEX CONCURRENTLY.",
        vendors=PG,
        squawk="require-concurrent-index-deletion",
    )
)
REINDEX_LOCKS = register(
    Check(
        "S133",
        "reindex-not-concurrently",
        "warning",
        "S",
        "REINDEX without CONCURRENTLY",
        "Blocks writes to the table (and reads that use the index) until it ends.",
        "REINDEX ... CONCURRENTLY (PostgreSQL 12+).",
        vendors=PG,
    )
)
FOREIGN_KEY = register(
    Check(
        "S134",
        "foreign-key-validated",
        "warning",
        "S",
        "Foreign key added and validated at once",
        "Locks both tables (SHARE ROW EXCLUSIVE) while every row is checked.",
        "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in another step.",
        vendors=PG,
        squawk="adding-foreign-key-constraint",
    )
)
CHECK_CONSTRAINT = register(
    Check(
        "S135",
        "check-validated",
        "warning",
        "S",
        "CHECK constraint added and validated at once",
        "Scans the table under an ACCESS EXCLUSIVE lock; an application writing values it "
        "rejects breaks.",
        "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in another step.",
        vendors=PG,
        squawk="constraint-missing-not-valid",
    )
)
UNIQUE_CONSTRAINT = register(
    Check(
        "S136",
        "unique-constraint",
        "warning",
        "S",
        "UNIQUE or PRIMARY KEY constraint built in place",
        "Builds its index under an ACCESS EXCLUSIVE lock, and fails on duplicates.",
        "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX.",
        vendors=PG,
        squawk="disallowed-unique-constraint",
    )
)
VOLATILE_DEFAULT = register(
    Check(
        "S137",
        "volatile-default",
        "warning",
        "S",
        "Column added with a volatile default or serial type",
        "Every row is rewritten under an ACCESS EXCLUSIVE lock (constant defaults are free "
        "since PostgreSQL 11, volatile ones are not).",
        "Add the column without a default, set the default, backfill in batches.",
        vendors=PG,
        squawk="adding-field-with-default",
    )
)
TABLE_REWRITE = register(
    Check(
        "S138",
        "vacuum-full-or-cluster",
        "error",
        "S",
        "VACUUM FULL or CLUSTER",
        "Rewrites the table under an ACCESS EXCLUSIVE lock for as long as it takes.",
        "Plain VACUUM, or pg_repack, outside a deployment.",
        vendors=PG,
    )
)
LOCK_TIMEOUT = register(
    Check(
        "S139",
        "missing-lock-timeout",
        "warning",
        "S",
        "DDL on an existing table without lock_timeout",
        "Waiting for its lock (ALTER TABLE, CREATE or DROP INDEX, even CONCURRENTLY, or a "
        "new table's foreign keys on the tables they reference), the statement queues "
        "every later query on the table behind it: an outage while a long transaction runs.",
        "SET lock_timeout = '5s' before it (or the step option lock_timeout), and retry.",
        vendors=PG,
        squawk="require-lock-timeout",
    )
)
UNBATCHED_UPDATE = register(
    Check(
        "S140",
        "unbatched-update",
        "warning",
        "S",
        "UPDATE or DELETE of a whole table in one transaction",
        "Every row stays locked until the step commits; on a large table that blocks "
        "writers and bloats the table.",
        "A transform step (keyset batches, exact rollback) instead of one statement.",
    )
)
# -- risky types -------------------------------------------------------------------------
INT_KEY = register(
    Check(
        "S151",
        "int-primary-key",
        "warning",
        "S",
        "32-bit primary key",
        "integer and serial keys run out at 2,147,483,647 rows, and widening them later "
        "rewrites the table.",
        "bigint (bigint GENERATED ALWAYS AS IDENTITY).",
        vendors=PG,
        # squawk's prefer-bigint-over-int flags every int column; this one keys only.
    )
)
NAIVE_TIMESTAMP = register(
    Check(
        "S152",
        "timestamp-without-time-zone",
        "warning",
        "S",
        "timestamp without time zone",
        "Stores wall-clock time with no zone: values move when the server's zone changes.",
        "timestamptz.",
        vendors=PG,
        squawk="prefer-timestamp-tz",
    )
)
VARCHAR_LENGTH = register(
    Check(
        "S153",
        "varchar-length",
        "info",
        "S",
        "varchar(n)",
        "Raising the limit later may take a lock; PostgreSQL's text is as fast.",
        "text, with a CHECK (length(...) <= n) if a limit matters.",
        vendors=PG,
        squawk="prefer-text-field",
    )
)
PLAIN_JSON = register(
    Check(
        "S154",
        "json-not-jsonb",
        "info",
        "S",
        "json instead of jsonb",
        "json cannot be indexed or compared, and is re-parsed on every access.",
        "jsonb.",
        vendors=PG,
    )
)
# -- the migration itself ----------------------------------------------------------------
NO_WAY_BACK = register(
    Check(
        "M161",
        "no-way-back",
        "warning",
        "M",
        "A step with no way back",
        "A rollback past this migration needs a backup (taken by default with BACKUP "
        "'auto'), or is impossible.",
        "Write the backward part (down SQL), or use a transform (its values are captured).",
    )
)
UNPARSED = register(
    Check(
        "M162",
        "not-analysed",
        "info",
        "M",
        "Statement not analysed",
        "The PostgreSQL parser could not read it (another dialect's syntax, or a syntax "
        "error the database will report), so no statement check ran on it.",
        "Nothing to do if it runs; otherwise fix its syntax.",
    )
)

# -- the target (only when a database is linted, not a folder) --------------------------
OUT_OF_ORDER = register(
    Check(
        "M163",
        "out-of-order",
        "warning",
        "M",
        "Pending migration older than the current version",
        "It was added after later versions were applied: it will run after them, which its "
        "author may not have expected (Flyway refuses it unless outOfOrder is set).",
        "Give it a version after the current one, or check it does not depend on order.",
    )
)
SCHEMA_DRIFT = register(
    Check(
        "D201",
        "schema-drift",
        "error",
        "D",
        "The live schema differs from the recorded one",
        "Someone changed the schema outside migrator (and outside Django's own migrations, "
        "whose tables are left out) since the last deployment: migrations planned against "
        "the recorded schema may fail or do the wrong thing.",
        "Find the change (migrator diff, or the console's comparison) and turn it into a "
        "migration, or undo it.",
    )
)


#: Checks whose risk is how long a lock is held: on a small table of the target (setting
#: ``LINT_SMALL_TABLE_ROWS``) their findings count as info. Not those that also warn of
#: what breaks the application (a type change, SET NOT NULL, a CHECK): size changes nothing.
LOCK_RISKS = frozenset(
    check.id
    for check in (
        INDEX_LOCKS,
        DROP_INDEX_LOCKS,
        REINDEX_LOCKS,
        FOREIGN_KEY,
        UNIQUE_CONSTRAINT,
        VOLATILE_DEFAULT,
        TABLE_REWRITE,
        UNBATCHED_UPDATE,
    )
)
