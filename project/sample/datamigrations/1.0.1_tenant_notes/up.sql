-- Description: Free-form operator notes per tenant
-- Author: Platform Team
-- Release: 1.0
CREATE TABLE sample_tenant_note (
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES sample_tenant (id),
    note TEXT NOT NULL
);
