-- Delivery uids (the receiver's idempotency key), given to deliveries queued before them
ALTER TABLE webhook_deliveries ADD COLUMN uid TEXT;
UPDATE webhook_deliveries SET uid = replace(gen_random_uuid()::text, '-', '');
