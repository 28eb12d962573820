// The audit trail: admin actions and deletions, who did what to what, when (table audit_events).
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Db } from '../shared/db.js';

/** Records one action of the request's principal. A failure to record is logged, not thrown: the action itself already happened. */
export async function audit(db: Db, req: FastifyRequest, action: string, target: string | null, details?: object): Promise<void> {
  try {
    await db.auditEvent.create({ data: { id: randomUUID(), actor: req.principal?.id ?? 'unknown', action, target, details: details ?? undefined } });
  } catch (err) {
    req.log.error({ err, action, target }, 'could not record an audit event');
  }
}
