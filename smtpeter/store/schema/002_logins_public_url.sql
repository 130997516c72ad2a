-- A login's own click domain (a CNAME to the gateway)
ALTER TABLE logins ADD COLUMN public_url TEXT;
