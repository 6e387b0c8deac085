"""Release 1.2: durabilityMode is replaced by syncMode (strict→full, relaxed→normal, none→off)."""

from migrator import dsl

MAPPING = "CASE {old} WHEN 'strict' THEN 'full' WHEN 'relaxed' THEN 'normal' ELSE 'off' END"


class Migration(dsl.Migration):
    description = "Replace config.durabilityMode with config.syncMode"
    author = "Storage Team"
    release = "1.2"
    kind = "data"
    risk = "medium"
    steps = [
        dsl.Transform(
            name="durabilityMode to syncMode",
            # Throttled, as on a live database: the other queries keep their share
            # (and an operator has time to watch, pause and resume it in the console).
            max_rows_per_second=25_000,
            table="sample_tenant",
            set={
                "config": {
                    "sqlite": "json_remove(json_set(config, '$.syncMode', "
                    + MAPPING.format(old="json_extract(config, '$.durabilityMode')")
                    + "), '$.durabilityMode')",
                    "postgresql": "(config - 'durabilityMode') || jsonb_build_object('syncMode', "
                    + MAPPING.format(old="config->>'durabilityMode'")
                    + ")",
                }
            },
            where={
                "sqlite": "json_type(config, '$.durabilityMode') IS NOT NULL",
                "postgresql": "jsonb_exists(config, 'durabilityMode')",
            },
        ),
    ]
