-- Description: Daily per-tenant usage statistics in the analytics database
-- === UP MIGRATION ===
CREATE TABLE daily_tenant_stats (
    day DATE NOT NULL,
    tenant_name VARCHAR(100) NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, tenant_name)
);

-- === DOWN MIGRATION ===
DROP TABLE daily_tenant_stats;
