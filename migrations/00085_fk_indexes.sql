-- +goose NO TRANSACTION
-- Issue 8: indexes on the foreign keys that cascading deletes and lookups
-- use. Without them, deleting an integration (or a tenant, or a run by the
-- retention workflow) scans integrationStreams, activities and
-- memberIdentities once per deleted row, holding its locks all the while.
-- CONCURRENTLY (hence no transaction) so that adding them to a live
-- database does not block the workers' writes.

-- +goose Up
CREATE INDEX CONCURRENTLY IF NOT EXISTS "integrationStreams_integrationId" ON "integrationStreams" ("integrationId");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "integrationStreams_tenantId" ON "integrationStreams" ("tenantId");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "integrationRuns_tenantId" ON "integrationRuns" ("tenantId");
CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_integration ON activities ("integrationId");
CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_parent ON activities ("parentId") WHERE "parentId" IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS "memberIdentities_integrationId" ON "memberIdentities" ("integrationId");
CREATE INDEX CONCURRENTLY IF NOT EXISTS "integrations_tenantId" ON integrations ("tenantId");

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS "integrationStreams_integrationId";
DROP INDEX CONCURRENTLY IF EXISTS "integrationStreams_tenantId";
DROP INDEX CONCURRENTLY IF EXISTS "integrationRuns_tenantId";
DROP INDEX CONCURRENTLY IF EXISTS activities_integration;
DROP INDEX CONCURRENTLY IF EXISTS activities_parent;
DROP INDEX CONCURRENTLY IF EXISTS "memberIdentities_integrationId";
DROP INDEX CONCURRENTLY IF EXISTS "integrations_tenantId";
