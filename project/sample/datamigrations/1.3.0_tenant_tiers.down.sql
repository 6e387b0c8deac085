DROP TABLE sample_tenant_tier;
DROP TABLE sample_rate_limit;
