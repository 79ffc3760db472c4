-- +goose Up
-- API tokens scoped to one tenant (`starter api-token create`). Only the
-- SHA-256 of a token is kept: the token is 32 random bytes, so a dump of
-- this table opens nothing (no salt or slow hash needed for that entropy).
CREATE TABLE "apiTokens" (
    id          uuid PRIMARY KEY,
    "tenantId"  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    "tokenHash" bytea NOT NULL UNIQUE,
    name        text NOT NULL DEFAULT '',
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "revokedAt" timestamptz
);
CREATE INDEX "apiTokens_tenant" ON "apiTokens" ("tenantId");

-- +goose Down
DROP TABLE "apiTokens";
