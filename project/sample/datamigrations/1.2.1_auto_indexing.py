"""Release 1.2: every tenant gets an autoIndexing flag, on for large tenants."""

from migrator import dsl


class Migration(dsl.Migration):
    description = "Add config.autoIndexing (true when maxMemoryBytes >= 1 GiB)"
    author = "Search Team"
    release = "1.2"
    kind = "data"
    steps = [
        dsl.Transform(
            name="add autoIndexing",
            # Throttled, as on a live database: the other queries keep their share
            # (and an operator has time to watch, pause and resume it in the console).
            max_rows_per_second=25_000,
            table="sample_tenant",
            set={
                "config": {
                    "sqlite": "json_set(config, '$.autoIndexing', json(CASE WHEN "
                    "json_extract(config, '$.maxMemoryBytes') >= 1073741824 "
                    "THEN 'true' ELSE 'false' END))",
                    "postgresql": "config || jsonb_build_object('autoIndexing', "
                    "COALESCE((config->>'maxMemoryBytes')::bigint >= 1073741824, false))",
                }
            },
        ),
    ]
