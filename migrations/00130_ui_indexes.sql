-- +goose Up
-- The web UI (issue 13) lists a tenant's integrations, and the operators'
-- page the runs that need attention across tenants, newest first. Processed
-- runs are most of the table and never listed there, hence the partial index.
CREATE INDEX integrations_tenant ON integrations ("tenantId", "createdAt" DESC) WHERE "deletedAt" IS NULL;
CREATE INDEX "integrationRuns_attention" ON "integrationRuns" ("updatedAt" DESC) WHERE state <> 'processed';

-- +goose Down
DROP INDEX "integrationRuns_attention";
DROP INDEX integrations_tenant;
