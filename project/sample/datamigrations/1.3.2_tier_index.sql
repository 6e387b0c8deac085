-- Description: Index tenants by tier for the rate limiter
-- Release: 1.3

-- migrate:up transaction:false
CREATE INDEX sample_tenant_tier_tier_idx ON sample_tenant_tier (tier);

-- migrate:down transaction:false
DROP INDEX sample_tenant_tier_tier_idx;
