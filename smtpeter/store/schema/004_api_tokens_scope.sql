-- Token scopes: tokens from before them are read tokens
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read';
