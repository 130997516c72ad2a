ALTER TABLE messages ADD COLUMN from_header TEXT;
