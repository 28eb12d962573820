-- API keys with roles, who submitted a job / moved an alias, and an audit trail of admin actions.

CREATE TYPE "ApiRole" AS ENUM ('read', 'predict', 'submit', 'admin');

CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" "ApiRole" NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "api_keys_secret_hash_key" ON "api_keys"("secret_hash");
CREATE INDEX "api_keys_created_at_id_idx" ON "api_keys"("created_at" DESC, "id" DESC);

CREATE TABLE "audit_events" (
    "id" UUID NOT NULL,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target" TEXT,
    "details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "audit_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_events_created_at_idx" ON "audit_events"("created_at" DESC);

ALTER TABLE "jobs" ADD COLUMN "submitted_by" TEXT;
-- Active jobs per submitter (MAX_ACTIVE_JOBS_PER_KEY) are counted often: index the live ones.
CREATE INDEX "jobs_submitted_by_active_idx" ON "jobs"("submitted_by") WHERE "status" IN ('queued', 'running');

ALTER TABLE "model_aliases" ADD COLUMN "updated_by" TEXT;
