// One pino logger for the whole process; job code logs through child loggers that carry the job id.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'mnist-jobs'): Logger {
  return pino({ name, level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}
