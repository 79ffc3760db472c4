-- +goose Up
-- crowd.dev's organizations and the members' links to them. The GitHub
-- integration fills them from a profile's company; an organization is
-- found again by name (case-insensitively) within its tenant, never
-- created twice.
CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    "tenantId"  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL,
    url         text,
    description text,
    location    text,
    logo        text,
    website     text,
    github      jsonb,
    twitter     jsonb,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz
);
CREATE UNIQUE INDEX organizations_tenant_name ON organizations ("tenantId", lower(name)) WHERE "deletedAt" IS NULL;

CREATE TABLE "memberOrganizations" (
    "memberId"       uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    "organizationId" uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    "createdAt"      timestamptz NOT NULL DEFAULT now(),
    "updatedAt"      timestamptz NOT NULL DEFAULT now(),
    "deletedAt"      timestamptz,
    PRIMARY KEY ("memberId", "organizationId")
);
CREATE INDEX "memberOrganizations_organization" ON "memberOrganizations" ("organizationId");

-- +goose Down
DROP TABLE "memberOrganizations", organizations;
