-- Description: Tenant tiers and per-tier rate limits
-- Author: Platform Team
-- Release: 1.3
CREATE TABLE sample_rate_limit (
    tier VARCHAR(20) PRIMARY KEY,
    requests_per_minute INTEGER NOT NULL,
    burst INTEGER NOT NULL
);
CREATE TABLE sample_tenant_tier (
    tenant_id BIGINT PRIMARY KEY REFERENCES sample_tenant (id),
    tier VARCHAR(20) NOT NULL DEFAULT 'free' REFERENCES sample_rate_limit (tier)
);
