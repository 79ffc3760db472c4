-- A duplicate connect returns the existing integration instead of making a
-- second one (issue 8, item 6). Two ways a connect is the same as an
-- earlier one, each enforced by a unique index so that two connects racing
-- each other cannot both insert:
--   * the same tenant, platform and integrationIdentifier (the platform's
--     own id of what was connected), among live integrations;
--   * the same Idempotency-Key from an API client retrying its request.

-- +goose Up
ALTER TABLE integrations ADD COLUMN "idempotencyKey" text;
CREATE UNIQUE INDEX integrations_idempotency_key ON integrations ("tenantId", "idempotencyKey")
    WHERE "idempotencyKey" IS NOT NULL AND "deletedAt" IS NULL;
CREATE UNIQUE INDEX integrations_tenant_platform_identifier ON integrations ("tenantId", platform, "integrationIdentifier")
    WHERE "integrationIdentifier" IS NOT NULL AND "deletedAt" IS NULL;

-- +goose Down
DROP INDEX integrations_tenant_platform_identifier;
DROP INDEX integrations_idempotency_key;
ALTER TABLE integrations DROP COLUMN "idempotencyKey";
