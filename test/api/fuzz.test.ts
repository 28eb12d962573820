// Property-based fuzzing of every operation in the OpenAPI document (fast-check): requests of the
// documented shapes with hostile values (NUL, lone surrogates, traversal, SQL, huge strings, private
// URLs), of other shapes, with wrong types, huge and deeply nested bodies, bytes that are not UTF-8,
// hostile path parameters and query strings. The properties: never a 5xx, every 4xx carries an
// error code; and /ready is still 200 at the end.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { bearer, startService } from '../helpers.js';

const ADMIN = `admin-fuzz-${'z'.repeat(16)}-${process.pid}`;
const svc = await startService({ api: true, worker: false }, { API_KEYS: `admin:${ADMIN}`, API_KEY_PEPPER: 'fuzz' });
const { app } = svc;
const doc = (await app.inject('/openapi.json')).json();
const RUNS_PER_OPERATION = Number(process.env.FUZZ_RUNS ?? 44);

const createdJobs = new Set<string>();
after(async () => {
  for (const id of createdJobs) await app.inject({ method: 'POST', url: `/v1/jobs/${id}/cancel`, headers: bearer(ADMIN) });
  await svc.db.apiKey.updateMany({ where: { revokedAt: null }, data: { revokedAt: new Date() } });
  await svc.close();
});

// ---- values ---------------------------------------------------------------------------------------------
const HOSTILE_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\u202eevil', '\u0007\u001b[31m', '😀', 'ﬁ', 'İ',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style payload, on purpose
  '../../../../etc/passwd', '..\\..\\windows', "' OR 1=1 --", '"; DROP TABLE jobs; --', '%00', '%ED%A0%80', '${jndi:ldap://x/a}', '<script>alert(1)</script>',
  'http://127.0.0.1:6379/', 'http://[::1]/', 'http://2130706433/', 'http://169.254.169.254/latest/meta-data/', 'file:///etc/passwd', 'latest', 'production',
  'A'.repeat(5000), 'é'.repeat(300), '0', '-1', 'null', 'true', '{}', '[]',
];
const hostileString = fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 }));
const hostileNumber = fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.5, -0, 1e-320);

type Schema = Record<string, any>;
const resolve = (s: Schema): Schema => (s?.$ref ? resolve(doc.components.schemas[String(s.$ref).split('/').pop()!]) : s);

/** Values of `schema`'s shape; leaves are valid most of the time and hostile otherwise. */
function arbOf(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema ?? {});
  if (depth > 6) return fc.constant(null);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...s.enum) }, { weight: 1, arbitrary: hostileString });
  const alts = s.oneOf ?? s.anyOf;
  if (alts) return fc.oneof(...alts.map((a: Schema) => arbOf(a, depth + 1)));
  if (s.allOf) return fc.tuple(...s.allOf.map((a: Schema) => arbOf(a, depth + 1))).map((parts) => Object.assign({}, ...parts.filter((p) => p && typeof p === 'object')));
  const type = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (type.length > 1) return fc.oneof(...type.map((t: string) => arbOf({ ...s, type: t }, depth)));
  switch (type[0]) {
    case 'object': {
      const props = Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, arbOf(v as Schema, depth + 1)]));
      return fc.record(props, { requiredKeys: (s.required ?? []).filter((k: string) => k in props) });
    }
    case 'array':
      return fc.array(arbOf(s.items ?? s.prefixItems?.[0], depth + 1), { minLength: Math.min(s.minItems ?? 0, 3), maxLength: Math.min(s.maxItems ?? 4, 4) });
    case 'string': {
      let valid: fc.Arbitrary<string> = fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 30, 30) });
      if (s.format === 'uuid') valid = fc.uuid();
      else if (s.format === 'uri') valid = fc.webUrl();
      else if (s.format === 'date-time') valid = fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
      else if (s.pattern) valid = fc.stringMatching(new RegExp(s.pattern, 'u'));
      return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 2, arbitrary: hostileString });
    }
    case 'integer':
      return fc.oneof({ weight: 3, arbitrary: fc.integer({ min: s.minimum ?? -10, max: Math.min(s.maximum ?? 1000, 1000) }) }, { weight: 1, arbitrary: hostileNumber });
    case 'number':
      return fc.oneof({ weight: 3, arbitrary: fc.double({ min: s.minimum ?? -10, max: s.maximum ?? 10, noNaN: true, noDefaultInfinity: true }) }, { weight: 1, arbitrary: hostileNumber });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return fc.anything({ maxDepth: 2 });
  }
}

/** A valid-shaped object with one member replaced by a value of the wrong type. */
const wrongType = (shape: fc.Arbitrary<unknown>) =>
  fc.tuple(shape, fc.anything({ maxDepth: 1 }), fc.nat()).map(([v, bad, i]) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return bad;
    const keys = Object.keys(v);
    return keys.length ? { ...v, [keys[i % keys.length]!]: bad } : bad;
  });

const nested = fc.integer({ min: 20, max: 3000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`);
const badBytes = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.concat([Buffer.from('{"a":"'), Buffer.from(b), Buffer.from([0xff, 0xc0]), Buffer.from('"}')]));
const huge = fc.constantFrom(
  () => JSON.stringify({ inputs: Array.from({ length: 30_000 }, () => [0.5]) }),
  () => JSON.stringify({ type: 'predict', params: { model: 'latest', inputs: ['A'.repeat(5 * 1024 * 1024)] } }),
  () => `"${'x'.repeat(9 * 1024 * 1024)}"`,
);

/** The raw body of one request: JSON of some shape, or bytes. */
function bodyOf(schema: Schema | undefined): fc.Arbitrary<string | Buffer | undefined> {
  const shape = arbOf(schema);
  return fc.oneof(
    { weight: 6, arbitrary: shape.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 2, arbitrary: wrongType(shape).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: nested },
    { weight: 1, arbitrary: badBytes },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '{"a":}', 'nul', '\u0000') },
    { weight: 1, arbitrary: huge.map((f) => f()) },
  );
}

const HOSTILE_SEGMENTS = ['123', 'x%00y', '%ED%A0%80', '..%2F..%2Fetc%2Fpasswd', '%27%20OR%201%3D1', 'A'.repeat(300), '%FF', '%E2%80%AE', 'latest', 'production', 'UPPER', '-x'];
const segment = (schema: Schema | undefined) =>
  fc.oneof(
    { weight: 3, arbitrary: arbOf(schema).map((v) => { try { return encodeURIComponent(String(v)); } catch { return '%ED%A0%80'; } }) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
  );

function queryOf(params: Schema[]): fc.Arbitrary<string> {
  if (!params.length) return fc.constantFrom('', '?x=%00', '?limit=-1&limit=2', '?%ED%A0%80=1');
  const pairs = params.map((p) =>
    fc.option(fc.oneof(arbOf(p.schema), fc.constantFrom('%00', '%ED%A0%80', '-1', '1e999', 'A'.repeat(500))), { nil: undefined }).map((v) => {
      if (v === undefined) return '';
      const raw = String(v);
      if (/^%/.test(raw)) return `${p.name}=${raw}`;
      try {
        return `${p.name}=${encodeURIComponent(raw)}`;
      } catch {
        return `${p.name}=%ED%A0%80`;
      }
    }),
  );
  return fc.tuple(...pairs).map((kv) => {
    const q = kv.filter(Boolean).join('&');
    return q ? `?${q}` : '';
  });
}

// ---- the requests ------------------------------------------------------------------------------------------
interface Operation {
  method: string;
  path: string;
  request: fc.Arbitrary<{ url: string; body: string | Buffer | undefined; auth: 'admin' | 'none' | 'bad' }>;
}

const operations: Operation[] = [];
for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Schema>>)) {
  for (const [method, op] of Object.entries(item)) {
    if (!['get', 'post', 'put', 'delete'].includes(method)) continue;
    if (path.endsWith('/events')) continue; // a stream; fuzzed below with ids that are never jobs'
    const params: Schema[] = op.parameters ?? [];
    const pathParams = params.filter((p) => p.in === 'path');
    const queryParams = params.filter((p) => p.in === 'query');
    const bodySchema = op.requestBody?.content?.['application/json']?.schema;
    const segments = fc.tuple(...pathParams.map((p) => segment(p.schema)));
    const body = method === 'get' || method === 'delete' ? fc.constant(undefined) : bodyOf(bodySchema);
    const auth = fc.oneof({ weight: 8, arbitrary: fc.constant('admin' as const) }, { weight: 1, arbitrary: fc.constantFrom('none' as const, 'bad' as const) });
    const request = fc.record({ segments, query: queryOf(queryParams), body, auth }).map(({ segments: segs, query, body: b, auth: a }) => {
      let url = path;
      for (const [i, p] of pathParams.entries()) url = url.replace(`{${p.name}}`, segs[i] as string);
      return { url: url + query, body: b, auth: a };
    });
    operations.push({ method: method.toUpperCase(), path, request });
  }
}

let total = 0;
let fiveHundreds = 0;
const perRoute = new Map<string, number>();

async function send(method: string, r: { url: string; body: string | Buffer | undefined; auth: 'admin' | 'none' | 'bad' }) {
  const headers: Record<string, string> = r.auth === 'admin' ? bearer(ADMIN) : r.auth === 'bad' ? bearer('x'.repeat(40)) : {};
  if (r.body !== undefined) headers['content-type'] = 'application/json';
  const res = await app.inject({ method: method as 'GET', url: r.url, headers, ...(r.body !== undefined ? { payload: r.body } : {}) });
  total++;
  if (res.statusCode >= 500) fiveHundreds++;
  if (method === 'POST' && r.url.startsWith('/v1/jobs') && res.statusCode === 202) createdJobs.add(res.json().id);
  return res;
}

describe('fuzzing every operation of the contract', () => {
  it(`never answers 5xx, and every 4xx has an error code (${RUNS_PER_OPERATION} runs per operation)`, async () => {
    assert.ok(operations.length >= 20, `${operations.length} operations`);
    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(op.request, async (r) => {
          const res = await send(op.method, r);
          perRoute.set(`${op.method} ${op.path}`, (perRoute.get(`${op.method} ${op.path}`) ?? 0) + 1);
          assert.ok(res.statusCode < 500, `${op.method} ${r.url.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`);
          if (res.statusCode >= 400) {
            const code = (res.json() as { error?: { code?: unknown } }).error?.code;
            assert.equal(typeof code, 'string', `${op.method} ${r.url.slice(0, 200)} → ${res.statusCode} without error.code: ${res.body.slice(0, 300)}`);
          }
        }),
        { numRuns: RUNS_PER_OPERATION, endOnFailure: true },
      );
    }
    // The event stream with ids that are never a job's: 400 or 404 at once, never a stream.
    for (const seg of [crypto.randomUUID(), ...HOSTILE_SEGMENTS]) {
      const res = await send('GET', { url: `/v1/jobs/${seg}/events`, body: undefined, auth: 'admin' });
      assert.ok([400, 404].includes(res.statusCode), `events ${seg}: ${res.statusCode}`);
    }
    // Methods and paths outside the contract.
    for (const [method, url] of [['PATCH', '/v1/jobs'], ['GET', '/v2/jobs'], ['GET', '/%ED%A0%80'], ['POST', '/health'], ['GET', `/${'a/'.repeat(500)}`]] as const) {
      const res = await send(method, { url, body: undefined, auth: 'admin' });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500 && typeof res.json().error?.code === 'string', `${method} ${url}: ${res.statusCode}`);
    }
    console.log(`fuzz: ${total} requests over ${perRoute.size + 1} operations, ${fiveHundreds} answers 5xx`);
    assert.ok(total >= 1000, `${total} requests`);
    assert.equal(fiveHundreds, 0);
    for (const op of operations) assert.ok((perRoute.get(`${op.method} ${op.path}`) ?? 0) > 0, `${op.method} ${op.path} fuzzed`);
    assert.equal((await app.inject('/ready')).statusCode, 200, '/ready still 200');
  });
});
