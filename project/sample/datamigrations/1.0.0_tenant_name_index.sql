-- Migration: 1.0.0_tenant_name_index
-- Description: Release 1.0 baseline: index tenants by name for the console's lookups
-- Author: Platform Team
-- Date: 2026-01-12
-- Release: 1.0

-- === UP MIGRATION ===
CREATE INDEX sample_tenant_name_idx ON sample_tenant (name);

-- === DOWN MIGRATION ===
DROP INDEX sample_tenant_name_idx;
