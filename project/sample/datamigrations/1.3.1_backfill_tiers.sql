-- Description: Backfill rate limits and every tenant's tier
-- Release: 1.3
-- Kind: data

-- +goose Up
INSERT INTO sample_rate_limit (tier, requests_per_minute, burst) VALUES
    ('free', 60, 10), ('pro', 600, 100), ('enterprise', 6000, 1000);
INSERT INTO sample_tenant_tier (tenant_id, tier)
SELECT id, CASE WHEN id % 10 = 0 THEN 'enterprise' WHEN id % 3 = 0 THEN 'pro' ELSE 'free' END
FROM sample_tenant;

-- +goose Down
DELETE FROM sample_tenant_tier;
DELETE FROM sample_rate_limit;
