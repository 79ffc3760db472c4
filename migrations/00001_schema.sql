-- +goose Up
-- crowd.dev-compatible names and camelCase columns, so the product UI can read them.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz
);

CREATE TABLE integrations (
    id                      uuid PRIMARY KEY,
    "tenantId"              uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    platform                text NOT NULL,
    status                  text NOT NULL,
    settings                jsonb NOT NULL DEFAULT '{}',
    token                   text,
    "refreshToken"          text,
    "integrationIdentifier" text,
    "limitCount"            integer NOT NULL DEFAULT 0,
    "limitLastResetAt"      timestamptz,
    "emailSentAt"           timestamptz,
    "createdAt"             timestamptz NOT NULL DEFAULT now(),
    "updatedAt"             timestamptz NOT NULL DEFAULT now(),
    "deletedAt"             timestamptz
);
CREATE INDEX integrations_platform_status ON integrations (platform, status, id) WHERE "deletedAt" IS NULL;
CREATE INDEX integrations_identifier ON integrations ("integrationIdentifier");

CREATE TABLE "integrationRuns" (
    id                  uuid PRIMARY KEY,
    "tenantId"          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    "integrationId"     uuid REFERENCES integrations (id) ON DELETE CASCADE,
    onboarding          boolean NOT NULL DEFAULT false,
    state               varchar(255) NOT NULL
        CHECK (state IN ('pending', 'processing', 'delayed', 'processed', 'error')),
    "delayedUntil"      timestamptz,
    "delayReason"       text,
    "processedAt"       timestamptz,
    error               jsonb,
    -- What preprocess produced: kept here, out of workflow history, so a
    -- delayed or continued run needs no second preprocess.
    "pipelineData"      jsonb,
    "workflowId"        text,
    "workflowRunId"     text,
    "recordsWritten"    bigint NOT NULL DEFAULT 0,
    "createdAt"         timestamptz NOT NULL DEFAULT now(),
    "updatedAt"         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX "integrationRuns_integration" ON "integrationRuns" ("integrationId", "createdAt" DESC);
CREATE INDEX "integrationRuns_active" ON "integrationRuns" ("integrationId")
    WHERE state IN ('pending', 'processing', 'delayed');

CREATE TABLE "integrationStreams" (
    id              uuid PRIMARY KEY,
    -- seq gives FIFO order: createdAt ties for streams inserted together.
    seq             bigserial NOT NULL UNIQUE,
    "runId"         uuid NOT NULL REFERENCES "integrationRuns" (id) ON DELETE CASCADE,
    "tenantId"      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    "integrationId" uuid REFERENCES integrations (id) ON DELETE CASCADE,
    state           varchar(255) NOT NULL
        CHECK (state IN ('pending', 'processing', 'processed', 'error')),
    name            text NOT NULL,
    metadata        jsonb NOT NULL DEFAULT '{}',
    -- md5 of name and metadata: a stream is stored once per run, however
    -- often a retried activity offers it.
    key             text NOT NULL,
    "processedAt"   timestamptz,
    error           jsonb,
    retries         integer,
    "recordsWritten" integer NOT NULL DEFAULT 0,
    "createdAt"     timestamptz NOT NULL DEFAULT now(),
    "updatedAt"     timestamptz NOT NULL DEFAULT now(),
    UNIQUE ("runId", key)
);
CREATE INDEX "integrationStreams_next" ON "integrationStreams" ("runId", state, seq);

CREATE TABLE members (
    id              uuid PRIMARY KEY,
    "tenantId"      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    "displayName"   text NOT NULL,
    emails          text[] NOT NULL DEFAULT '{}',
    attributes      jsonb NOT NULL DEFAULT '{}',
    score           integer NOT NULL DEFAULT -1,
    "joinedAt"      timestamptz NOT NULL,
    reach           jsonb NOT NULL DEFAULT '{"total": -1}',
    "createdAt"     timestamptz NOT NULL DEFAULT now(),
    "updatedAt"     timestamptz NOT NULL DEFAULT now(),
    "deletedAt"     timestamptz
);
CREATE INDEX members_tenant ON members ("tenantId");

CREATE TABLE "memberIdentities" (
    -- Deferred so that an identity and its new member go in one statement
    -- each, identity first: the unique key decides which member wins a race.
    "memberId"      uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    "tenantId"      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    platform        text NOT NULL,
    username        text NOT NULL,
    "sourceId"      text,
    "integrationId" uuid REFERENCES integrations (id) ON DELETE SET NULL,
    "createdAt"     timestamptz NOT NULL DEFAULT now(),
    "updatedAt"     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY ("memberId", platform, username),
    UNIQUE ("tenantId", platform, username)
);

CREATE TABLE activities (
    id              uuid PRIMARY KEY,
    "tenantId"      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    "memberId"      uuid NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    "integrationId" uuid REFERENCES integrations (id) ON DELETE SET NULL,
    platform        text NOT NULL,
    type            text NOT NULL,
    timestamp       timestamptz NOT NULL,
    "sourceId"      text NOT NULL,
    "sourceParentId" varchar(255),
    "parentId"      uuid REFERENCES activities (id) ON DELETE SET NULL,
    username        text NOT NULL,
    channel         text,
    title           text,
    body            text,
    url             text,
    attributes      jsonb NOT NULL DEFAULT '{}',
    score           integer NOT NULL DEFAULT 2,
    "isContribution" boolean NOT NULL DEFAULT false,
    "createdAt"     timestamptz NOT NULL DEFAULT now(),
    "updatedAt"     timestamptz NOT NULL DEFAULT now(),
    "deletedAt"     timestamptz,
    CONSTRAINT ix_unique_activities_tenantId_platform_type_sourceId
        UNIQUE ("tenantId", platform, type, "sourceId")
);
CREATE INDEX activities_source_parent ON activities ("sourceParentId", "tenantId", platform) WHERE "sourceParentId" IS NOT NULL;
CREATE INDEX activities_source ON activities ("sourceId", "tenantId", platform);
CREATE INDEX activities_member ON activities ("memberId");
CREATE INDEX activities_platform_type_ts ON activities ("tenantId", platform, type, timestamp);

CREATE TABLE "memberAttributeSettings" (
    id          uuid PRIMARY KEY,
    "tenantId"  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL,
    label       text NOT NULL,
    type        text NOT NULL,
    "canDelete" boolean NOT NULL DEFAULT true,
    show        boolean NOT NULL DEFAULT true,
    options     text[] NOT NULL DEFAULT '{}',
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    UNIQUE ("tenantId", name)
);

-- Which (tenant, platform) pairs have had their member attributes created:
-- createMemberAttributes runs once per pair.
CREATE TABLE "memberAttributePlatforms" (
    "tenantId"  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    platform    text NOT NULL,
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY ("tenantId", platform)
);

-- +goose StatementBegin
-- Member attribute merge (reference §4.4): attributes are
-- {name: {platform: value, ..., default: value}}. A new platform value
-- replaces that platform's old value; other platforms are kept; "default" is
-- the value of the first platform in the priority order, else of the first
-- platform by name.
CREATE FUNCTION crowd_merge_attributes(old jsonb, new jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH merged AS (
        SELECT k, (coalesce(old -> k, '{}'::jsonb) - 'default') || (coalesce(new -> k, '{}'::jsonb) - 'default') AS v
        FROM (SELECT jsonb_object_keys(coalesce(old, '{}'::jsonb)) UNION SELECT jsonb_object_keys(coalesce(new, '{}'::jsonb))) AS keys(k)
    )
    SELECT coalesce(jsonb_object_agg(k, v || jsonb_build_object('default', (
        SELECT v -> p FROM jsonb_object_keys(v) AS p
        ORDER BY coalesce(array_position(ARRAY['custom','twitter','github','linkedin','reddit','devto','slack','discord','hackernews','enrichment','crowd'], p), 1000), p
        LIMIT 1))), '{}'::jsonb)
    FROM merged
    WHERE v <> '{}'::jsonb
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- joinedAt merge: keep the earlier date, but dates before 1970-01-06 come
-- from timestamp-less records and never win over a real one.
CREATE FUNCTION crowd_merge_joined_at(old timestamptz, new timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN old IS NULL THEN new
        WHEN new IS NULL THEN old
        WHEN new < '1970-01-06Z' THEN old
        WHEN old < '1970-01-06Z' THEN new
        ELSE least(old, new)
    END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE "memberAttributePlatforms", "memberAttributeSettings", activities, "memberIdentities", members,
    "integrationStreams", "integrationRuns", integrations, tenants;
DROP FUNCTION crowd_merge_attributes(jsonb, jsonb);
DROP FUNCTION crowd_merge_joined_at(timestamptz, timestamptz);
