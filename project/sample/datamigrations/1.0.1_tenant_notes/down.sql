DROP TABLE sample_tenant_note;
