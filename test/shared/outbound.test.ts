// The outbound URL policy: literal private addresses in every spelling, `localhost` names, names that
// resolve to a private address (checked at connect time) and redirects into private networks are all
// refused, and the server behind them is never contacted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lookup } from 'node:dns/promises';
import os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/shared/errors.js';
import { checkOutboundUrl, isPublicAddress, safeFetch, type OutboundPolicy } from '../../src/shared/outbound.js';

const strict: OutboundPolicy = { allowPrivate: false };
const refused = (code = 'URL_HOST_NOT_ALLOWED') => (err: unknown) => err instanceof AppError && err.code === code;

describe('checkOutboundUrl', () => {
  it('refuses literal addresses of loopback, private, link-local, CGNAT, unspecified, multicast and their IPv6 counterparts', () => {
    const urls = [
      'http://127.0.0.1/', 'http://127.8.9.10:8080/x', 'http://10.0.0.1/', 'http://172.16.0.1/', 'http://172.31.255.255/',
      'http://192.168.1.1/', 'http://169.254.169.254/latest/meta-data/', 'http://100.64.0.1/', 'http://0.0.0.0/', 'http://224.0.0.1/',
      'http://255.255.255.255/', 'http://[::1]:6379/', 'http://[::]/', 'http://[fc00::1]/', 'http://[fd12:3456::1]/', 'http://[fe80::1]/',
      'http://[::ffff:127.0.0.1]/', 'http://[::ffff:10.0.0.1]/', 'http://[ff02::1]/',
      // Other spellings of 127.0.0.1: decimal, hex, octal, short.
      'http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://127.1/', 'http://0x7f.1/',
      'http://localhost/', 'http://LOCALHOST./', 'http://api.localhost:3000/',
    ];
    for (const url of urls) assert.throws(() => checkOutboundUrl(url, strict), refused(), url);
  });

  it('lets public addresses and names through, and everything with OUTBOUND_ALLOW_PRIVATE', () => {
    for (const url of ['https://example.org/mnist/', 'http://8.8.8.8/', 'http://[2606:4700::1111]/', 'http://172.32.0.1/', 'http://100.128.0.1/']) {
      checkOutboundUrl(url, strict);
    }
    checkOutboundUrl('http://127.0.0.1:6379/', { allowPrivate: true });
    checkOutboundUrl('http://localhost/', { allowPrivate: true });
  });

  it('applies the host allow-list on top', () => {
    assert.throws(() => checkOutboundUrl('https://other.example/', { allowPrivate: false, allowedHosts: ['example.org'] }), refused());
    assert.throws(() => checkOutboundUrl('http://127.0.0.1/', { allowPrivate: true, allowedHosts: ['example.org'] }), refused());
    checkOutboundUrl('https://example.org/', { allowPrivate: false, allowedHosts: ['example.org'] });
  });

  it('refuses other schemes', () => {
    assert.throws(() => checkOutboundUrl('file:///etc/passwd', strict), refused('INVALID_URL'));
    assert.throws(() => checkOutboundUrl('gopher://8.8.8.8/', strict), refused('INVALID_URL'));
  });

  it('classifies addresses', () => {
    assert.equal(isPublicAddress('93.184.215.14'), true);
    assert.equal(isPublicAddress('2001:4860:4860::8888'), true);
    for (const a of ['127.0.0.1', '10.1.2.3', '::1', '::ffff:8.8.8.8', '64:ff9b::7f00:1', '2001:db8::1', 'nonsense']) assert.equal(isPublicAddress(a), false, a);
  });
});

describe('safeFetch', () => {
  // The target that must never be reached: counts every connection it gets.
  let target: Server;
  let targetPort: number;
  let connections = 0;
  // A redirector the tests may reach (exempt by address), pointing into loopback.
  let redirector: Server;
  let redirectorBase: string;

  before(async () => {
    target = createServer((_req, res) => res.end('secret'));
    target.on('connection', () => connections++);
    target.listen(0, '0.0.0.0');
    await once(target, 'listening');
    targetPort = (target.address() as AddressInfo).port;
    redirector = createServer((req, res) => {
      const to: Record<string, string> = {
        '/to-localhost': `http://localhost:${targetPort}/`,
        '/to-loopback': `http://127.0.0.2:${targetPort}/`,
        '/to-decimal': `http://2130706434:${targetPort}/`,
        '/to-mapped': `http://[::ffff:127.0.0.3]:${targetPort}/`,
        '/loop': '/loop',
      };
      res.writeHead(302, { location: to[req.url!] ?? '/' }).end();
    });
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    redirectorBase = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
  });

  after(() => {
    for (const s of [target, redirector]) {
      s.closeAllConnections();
      s.close();
    }
  });

  it('refuses literal private addresses and localhost without contacting them', async () => {
    for (const host of ['127.0.0.1', 'localhost', '2130706433', '[::ffff:127.0.0.1]']) {
      await assert.rejects(safeFetch(`http://${host}:${targetPort}/`, {}, strict), refused(), host);
    }
    assert.equal(connections, 0);
  });

  it('refuses at connect time a name that resolves to a private address', async (t) => {
    const name = os.hostname();
    const { address } = await lookup(name).catch(() => ({ address: '' }));
    if (isPublicAddress(address) || !address) return t.skip(`${name} does not resolve to a private address here`);
    await assert.rejects(safeFetch(`http://${name}:${targetPort}/`, {}, strict), refused());
    assert.equal(connections, 0);
  });

  it('checks every redirect hop: a redirect into loopback is refused, its target never contacted', async () => {
    const policy: OutboundPolicy = { allowPrivate: false, exemptAddresses: ['127.0.0.1'] };
    for (const path of ['/to-localhost', '/to-loopback', '/to-decimal', '/to-mapped']) {
      await assert.rejects(safeFetch(`${redirectorBase}${path}`, {}, policy), refused(), path);
    }
    assert.equal(connections, 0, 'the loopback target was never contacted');
    await assert.rejects(safeFetch(`${redirectorBase}/loop`, {}, policy), refused('DOWNLOAD_FAILED'));
  });

  it('with OUTBOUND_ALLOW_PRIVATE reaches local servers, redirects included', async () => {
    const res = await safeFetch(`${redirectorBase}/to-loopback`, {}, { allowPrivate: true });
    assert.equal(await res.text(), 'secret');
    assert.ok(connections > 0);
  });

  it('a closed port and a refused host give messages that do not name the cause', async () => {
    const err = await safeFetch(`http://127.0.0.1:1/`, {}, { allowPrivate: true }).catch((e) => e);
    assert.equal(err.code, 'DOWNLOAD_FAILED');
    assert.doesNotMatch(err.message, /ECONNREFUSED|refused|closed/i);
  });
});
