// The `s3` artifact store, for any S3-compatible service (AWS S3, MinIO, Ceph, Cloudflare R2): object
// `a/b` is `s3://S3_BUCKET/S3_PREFIX a/b`. Uploads go through lib-storage's Upload, which sends one
// PutObject for small bodies and a multipart upload for large ones; either appears only when
// complete. Each object carries its sha256 as metadata (`x-amz-meta-sha256`), the key of the local
// cache and the ETag the API serves. Credentials come from the SDK's usual chain.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AppError } from '../shared/errors.js';
import {
  assertKey,
  assertPrefix,
  notFoundError,
  sha256Of,
  sha256OfFile,
  unavailable,
  type ArtifactStore,
  type Body,
  type ObjectInfo,
  type PutOptions,
} from './store.js';

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key; `''` or a path ending with `/`. */
  prefix?: string;
  region?: string;
  /** For services other than AWS (MinIO: http://minio:9000). */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Parts of a multipart upload; bodies smaller than one part go in a single PutObject. */
  partSize?: number;
}

const PART_SIZE = 16 * 1024 * 1024;
/** Objects written from a stream of unknown hash wait here until they are copied to their key. */
const STAGING = '.staging/';

const statusOf = (err: unknown) => (err as S3ServiceException)?.$metadata?.httpStatusCode;
const isNotFound = (err: unknown) =>
  statusOf(err) === 404 || ['NoSuchKey', 'NotFound', 'NoSuchBucket'].includes((err as Error)?.name);

const normalizePrefix = (p = '') => (p === '' || p.endsWith('/') ? p : `${p}/`).replace(/^\/+/, '');

export class S3Store implements ArtifactStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  /** Bytes sent and received as object bodies, since the store was made (for figures and logs). */
  readonly transfer = { uploadedBytes: 0, downloadedBytes: 0 };

  constructor(opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = normalizePrefix(opts.prefix);
    if (this.prefix) assertPrefix(this.prefix);
    this.partSize = opts.partSize ?? PART_SIZE;
    this.location = `s3://${opts.bucket}/${this.prefix}${opts.endpoint ? ` at ${opts.endpoint}` : ''}`;
    this.client = new S3Client({
      region: opts.region || 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? false,
      // Checksums only where S3 requires them: the newer default (a CRC trailer on every upload)
      // is not understood by every S3-compatible service, and sha256 metadata covers integrity here.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // An unreachable endpoint fails in seconds rather than hanging a start or a /ready probe.
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
      maxAttempts: 3,
    });
  }

  url(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  private k(key: string) {
    return this.prefix + key;
  }

  /** Maps SDK errors: a missing object is FILE_NOT_FOUND, anything else from S3 STORE_UNAVAILABLE. */
  private fail(err: unknown, key?: string): never {
    if (err instanceof AppError) throw err;
    if (key !== undefined && isNotFound(err) && (err as Error).name !== 'NoSuchBucket') throw notFoundError(key);
    throw unavailable(this.location, describe(err, this.bucket), { name: (err as Error)?.name, status: statusOf(err) });
  }

  private async upload(key: string, body: Buffer | Readable, sha256: string | undefined, opts: PutOptions, length?: number) {
    const upload = new Upload({
      client: this.client,
      partSize: this.partSize,
      queueSize: 4,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: this.k(key),
        Body: body,
        ...(length !== undefined ? { ContentLength: length } : {}),
        ...(opts.contentType ? { ContentType: opts.contentType } : {}),
        ...(sha256 ? { Metadata: { sha256 } } : {}),
      },
    });
    try {
      await upload.done();
    } catch (err) {
      this.fail(err);
    }
  }

  async put(key: string, body: Body, opts: PutOptions = {}): Promise<ObjectInfo> {
    assertKey(key);
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const data = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const sha256 = sha256Of(data);
      await this.upload(key, data, sha256, opts, data.length);
      this.transfer.uploadedBytes += data.length;
      return this.headOrFail(key);
    }
    // A stream's hash is known only at its end: upload it under a staging key, then copy it to its
    // key with the hash as metadata (a server-side copy, no second upload).
    const staging = `${STAGING}${randomUUID()}`;
    const h = createHash('sha256');
    const transfer = this.transfer;
    const hashing = new Transform({
      transform(chunk, _enc, cb) {
        h.update(chunk as Buffer);
        transfer.uploadedBytes += (chunk as Buffer).length;
        cb(null, chunk);
      },
    });
    body.on('error', (err) => hashing.destroy(err));
    try {
      await this.upload(staging, body.pipe(hashing), undefined, opts);
      const sha256 = h.digest('hex');
      await this.client
        .send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: this.k(key),
            CopySource: encodeURI(`${this.bucket}/${this.k(staging)}`),
            MetadataDirective: 'REPLACE',
            Metadata: { sha256 },
            ...(opts.contentType ? { ContentType: opts.contentType } : {}),
          }),
        )
        .catch((err) => this.fail(err));
    } finally {
      await this.delete(staging).catch(() => {});
    }
    return this.headOrFail(key);
  }

  async putFile(key: string, file: string, opts: PutOptions = {}): Promise<ObjectInfo> {
    assertKey(key);
    const [sha256, st] = await Promise.all([sha256OfFile(file), stat(file)]);
    await this.upload(key, createReadStream(file), sha256, opts, st.size);
    this.transfer.uploadedBytes += st.size;
    return this.headOrFail(key);
  }

  private async headOrFail(key: string): Promise<ObjectInfo> {
    const info = await this.head(key);
    if (!info) throw unavailable(this.location, `${key} was written but cannot be read back`);
    return info;
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertKey(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.k(key) }));
      return this.info(key, r.ContentLength ?? 0, r.LastModified, r.ETag, r.Metadata?.sha256, r.ContentType);
    } catch (err) {
      if (isNotFound(err) && (err as Error).name !== 'NoSuchBucket') return null;
      this.fail(err);
    }
  }

  private info(key: string, size: number, lastModified?: Date, etag?: string, sha256?: string, contentType?: string): ObjectInfo {
    return {
      key,
      size,
      lastModified: lastModified ?? new Date(0),
      // The content's sha256 where known: the same bytes give the same ETag whatever wrote them.
      etag: sha256 ?? (etag ?? '').replace(/"/g, ''),
      ...(sha256 ? { sha256 } : {}),
      ...(contentType ? { contentType } : {}),
    };
  }

  async get(key: string): Promise<{ info: ObjectInfo; body: Readable }> {
    assertKey(key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.k(key) }));
      const info = this.info(key, r.ContentLength ?? 0, r.LastModified, r.ETag, r.Metadata?.sha256, r.ContentType);
      this.transfer.downloadedBytes += info.size; // bodies are read whole by every caller here
      return { info, body: r.Body as Readable };
    } catch (err) {
      this.fail(err, key);
    }
  }

  async getToFile(key: string, file: string): Promise<ObjectInfo> {
    const { info, body } = await this.get(key);
    const tmp = `${file}.tmp-${randomUUID()}`;
    await mkdir(path.dirname(file), { recursive: true });
    try {
      await pipeline(body, createWriteStream(tmp));
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      this.fail(err, key);
    }
    return info;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertPrefix(prefix);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const r = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.k(prefix), ContinuationToken: token }))
        .catch((err) => this.fail(err));
      for (const o of r.Contents ?? []) {
        const key = o.Key!.slice(this.prefix.length);
        if (key.startsWith(STAGING)) continue;
        out.push(this.info(key, o.Size ?? 0, o.LastModified, o.ETag));
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.k(key) })).catch((err) => {
      if (!isNotFound(err) || (err as Error).name === 'NoSuchBucket') this.fail(err);
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = (await this.list(prefix)).map((o) => o.key);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.client
        .send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.k(k) })), Quiet: true } }))
        .catch((err) => this.fail(err));
    }
    return keys.length;
  }

  /** The bucket exists and this process may write to it (a probe object is written and deleted). */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      const probe = this.k(`${STAGING}probe-${randomUUID()}`);
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: probe, Body: Buffer.alloc(0), ContentLength: 0 }));
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: probe }));
    } catch (err) {
      throw unavailable(this.location, describe(err, this.bucket), { name: (err as Error)?.name, status: statusOf(err) });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** What went wrong, in words an operator can act on. */
function describe(err: unknown, bucket: string): string {
  const e = err as NodeJS.ErrnoException & { $metadata?: { httpStatusCode?: number } };
  const status = statusOf(err);
  if (e?.name === 'NoSuchBucket' || (status === 404 && e?.name === 'NotFound')) return `bucket "${bucket}" does not exist (create it, or set S3_BUCKET)`;
  if (status === 403 || ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch'].includes(e?.name)) {
    return `access to bucket "${bucket}" denied (${e.name}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the instance role`;
  }
  if (e?.name === 'CredentialsProviderError') return `no credentials found (${e.message})`;
  const code = e?.code ?? (e?.cause as NodeJS.ErrnoException | undefined)?.code;
  if (code && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'].includes(code)) {
    return `cannot reach the S3 endpoint (${code}): check S3_ENDPOINT and the network`;
  }
  if (e?.name === 'TimeoutError') return 'the S3 endpoint did not answer in time';
  return `${e?.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(err)}`;
}
