-- +goose Up
-- The service that processes a run, when it is not the integration's own
-- platform: twitter-reach runs belong to the tenant's twitter integration
-- (crowd.dev tied them to a microservices row instead). NULL: the
-- integration's platform.
ALTER TABLE "integrationRuns" ADD COLUMN service text;

-- +goose Down
ALTER TABLE "integrationRuns" DROP COLUMN service;
