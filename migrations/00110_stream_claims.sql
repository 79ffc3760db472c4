-- +goose Up
-- Parallel streams within a run (issue 11).
--
-- "claimedBy" names the slot of the run's workflow that took a stream
-- (slot-0, slot-1, ...): a slot whose step was cut short (a worker killed,
-- a lost completion) takes its own unfinished stream up again first, and
-- no other slot ever takes it.
--
-- "notBefore" holds one stream back until its route's rate limit ends (a
-- Discord per-route bucket), while the run's other streams go on.
ALTER TABLE "integrationStreams" ADD COLUMN "claimedBy" text;
ALTER TABLE "integrationStreams" ADD COLUMN "notBefore" timestamptz;

-- +goose Down
ALTER TABLE "integrationStreams" DROP COLUMN "notBefore";
ALTER TABLE "integrationStreams" DROP COLUMN "claimedBy";
