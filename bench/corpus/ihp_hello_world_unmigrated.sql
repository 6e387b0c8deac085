-- This file is created by the IHP Schema Designer.
ALTER TABLE posts DROP COLUMN created_at;
ALTER TABLE posts ADD COLUMN created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW() NOT NULL;
