-- Sweeps (issue 13): a `sweep` job type whose trials are child jobs, and a flag with which a sweep
-- asks a running trial to stop at the end of its current epoch (ASHA early stopping).
ALTER TYPE "JobType" ADD VALUE IF NOT EXISTS 'sweep';

ALTER TABLE "jobs" ADD COLUMN "parent_id" UUID REFERENCES "jobs"("id") ON DELETE CASCADE;
ALTER TABLE "jobs" ADD COLUMN "stop_requested" BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX "jobs_parent_id_created_at_idx" ON "jobs"("parent_id", "created_at");
