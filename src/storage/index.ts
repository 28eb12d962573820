// The artifact store this process uses, made from the configuration, and checked before any work
// starts: a bad or unreachable bucket stops the start with a message saying which and why.
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { AppError } from '../shared/errors.js';
import { ArtifactCache } from './cache.js';
import { FsStore } from './fs-store.js';
import { S3Store } from './s3-store.js';
import type { ArtifactStore } from './store.js';

export type { ArtifactStore, ObjectInfo, Body } from './store.js';
export { getBuffer, getJson } from './store.js';
export { ArtifactCache, type View } from './cache.js';

export interface Artifacts {
  store: ArtifactStore;
  cache: ArtifactCache;
}

export function createStore(config: Config): ArtifactStore {
  if (config.ARTIFACT_STORE === 'fs') return new FsStore(config.DATA_DIR);
  return new S3Store({
    bucket: config.S3_BUCKET,
    prefix: config.S3_PREFIX,
    region: config.AWS_REGION,
    endpoint: config.S3_ENDPOINT || undefined,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
  });
}

export function createArtifacts(config: Config): Artifacts {
  const store = createStore(config);
  return { store, cache: new ArtifactCache(store, config.DATA_DIR, config.ARTIFACT_CACHE_MAX_BYTES) };
}

/**
 * The store, once it answers. An endpoint that cannot be reached yet or a bucket not created yet (a
 * MinIO container and its create-bucket step starting beside this one) are retried for `waitMs`,
 * each retry logged with the reason; refused credentials and anything else fail at once.
 */
export async function openArtifacts(config: Config, logger: Logger, waitMs = 30_000): Promise<Artifacts> {
  const artifacts = createArtifacts(config);
  const deadline = Date.now() + waitMs;
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try {
      await artifacts.store.check();
      logger.info({ store: artifacts.store.kind, location: artifacts.store.location }, 'artifact store ready');
      return artifacts;
    } catch (err) {
      const transient = /cannot reach|did not answer|does not exist/.test((err as Error).message);
      if (!transient || Date.now() + delay > deadline) {
        await artifacts.store.close();
        throw err instanceof AppError ? err : new AppError('STORE_UNAVAILABLE', (err as Error).message);
      }
      logger.warn({ location: artifacts.store.location, retryInMs: delay }, (err as Error).message);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
