-- +goose Up
-- crowd.dev's incomingWebhooks: a delivery is stored before it is
-- acknowledged, then processed by a worker (state PENDING -> PROCESSED, or
-- ERROR with the error). "deliveryId" is the platform's id of the delivery
-- (GitHub's X-GitHub-Delivery): a redelivery finds its row and stores
-- nothing twice.
CREATE TABLE "incomingWebhooks" (
    id              uuid PRIMARY KEY,
    "tenantId"      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    "integrationId" uuid NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    state           varchar(255) NOT NULL CHECK (state IN ('PENDING', 'PROCESSED', 'ERROR')),
    type            varchar(255) NOT NULL,
    "deliveryId"    text NOT NULL,
    payload         jsonb NOT NULL,
    "processedAt"   timestamptz,
    error           jsonb,
    "createdAt"     timestamptz NOT NULL DEFAULT now(),
    "updatedAt"     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (type, "deliveryId")
);
CREATE INDEX "incomingWebhooks_pending" ON "incomingWebhooks" ("createdAt") WHERE state = 'PENDING';
CREATE INDEX "incomingWebhooks_integration" ON "incomingWebhooks" ("integrationId");

-- +goose Down
DROP TABLE "incomingWebhooks";
