-- Operations (issue 11): webhooks with their messages and delivery attempts, a job's callback URL,
-- and the status history of every job.

CREATE TABLE "webhooks" (
    "id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "events" TEXT[] NOT NULL,
    "description" TEXT,
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhooks_created_at_id_idx" ON "webhooks"("created_at" DESC, "id" DESC);

-- One message per event and receiver (a webhook, or a job's callbackUrl); its id is the
-- `webhook-id` header, the same on every attempt.
CREATE TABLE "webhook_messages" (
    "id" TEXT NOT NULL,
    "webhook_id" UUID,
    "job_id" UUID,
    "url" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_messages_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_messages_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE,
    CONSTRAINT "webhook_messages_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE
);
CREATE INDEX "webhook_messages_status_idx" ON "webhook_messages"("status");

-- One row per delivery attempt.
CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "message_id" TEXT NOT NULL,
    "webhook_id" UUID,
    "attempt" INTEGER NOT NULL,
    "status_code" INTEGER,
    "error" TEXT,
    "duration_ms" INTEGER NOT NULL,
    "next_retry_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_deliveries_message_id_fkey" FOREIGN KEY ("message_id") REFERENCES "webhook_messages"("id") ON DELETE CASCADE
);
CREATE INDEX "webhook_deliveries_webhook_id_created_at_idx" ON "webhook_deliveries"("webhook_id", "created_at" DESC, "id" DESC);
CREATE INDEX "webhook_deliveries_message_id_idx" ON "webhook_deliveries"("message_id");

ALTER TABLE "jobs" ADD COLUMN "callback_url" TEXT;
-- Written by the worker running the job about once a second: a running job whose heartbeat is fresh
-- has a live worker even when the queue lost its entry (the reconciler leaves it alone).
ALTER TABLE "jobs" ADD COLUMN "heartbeat_at" TIMESTAMPTZ(3);
-- Who asked for the cancel of a running job, for its history once its worker stops it.
ALTER TABLE "jobs" ADD COLUMN "cancelled_by" TEXT;

-- Every status a job entered, when, and why.
CREATE TABLE "job_transitions" (
    "id" BIGSERIAL NOT NULL,
    "job_id" UUID NOT NULL,
    "status" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "reason" TEXT,
    CONSTRAINT "job_transitions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "job_transitions_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE
);
CREATE INDEX "job_transitions_job_id_id_idx" ON "job_transitions"("job_id", "id");
