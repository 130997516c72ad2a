-- PLACEHOLDER on branch s4/unsub only: step 017 belongs to s4/send (API tokens
-- tied to a login). Delete this file when s4/unsub is merged after s4/send; the
-- steps must be numbered 1, 2, ... and 018 (suppression scope) is this branch's.
SELECT 1;
