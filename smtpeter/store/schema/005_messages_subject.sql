-- Search fields of messages (those from before them have none)
ALTER TABLE messages ADD COLUMN subject TEXT;
