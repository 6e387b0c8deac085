"""Release 1.1: maxMemoryMB becomes maxMemoryBytes, scaled by 1,048,576."""

from migrator import dsl


class Migration(dsl.Migration):
    description = "Rename config.maxMemoryMB to config.maxMemoryBytes (value × 1048576)"
    author = "Platform Team"
    release = "1.1"
    kind = "data"
    steps = [
        dsl.Transform(
            name="rename maxMemoryMB",
            # Throttled, as on a live database: the other queries keep their share
            # (and an operator has time to watch, pause and resume it in the console).
            max_rows_per_second=25_000,
            table="sample_tenant",
            key="id",
            set={
                "config": {
                    "sqlite": "json_remove(json_set(config, '$.maxMemoryBytes', "
                    "json_extract(config, '$.maxMemoryMB') * 1048576), '$.maxMemoryMB')",
                    "postgresql": "(config - 'maxMemoryMB') || jsonb_build_object("
                    "'maxMemoryBytes', (config->>'maxMemoryMB')::bigint * 1048576)",
                }
            },
            where={
                "sqlite": "json_type(config, '$.maxMemoryMB') IS NOT NULL",
                "postgresql": "jsonb_exists(config, 'maxMemoryMB')",
            },
        ),
        dsl.Validate(
            {
                "sqlite": "SELECT id FROM sample_tenant "
                "WHERE json_type(config, '$.maxMemoryMB') IS NOT NULL",
                "postgresql": "SELECT id FROM sample_tenant WHERE jsonb_exists(config, 'maxMemoryMB')",
            },
            name="no maxMemoryMB left",
        ),
    ]
