-- +goose NO TRANSACTION
-- Issue 8: the retention workflow deletes processed runs older than a
-- configurable age, oldest first, a batch at a time: this index finds them
-- without scanning the runs that are kept.

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS "integrationRuns_processed" ON "integrationRuns" ("processedAt") WHERE state = 'processed';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS "integrationRuns_processed";
