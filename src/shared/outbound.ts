// Outbound requests to URLs that clients name ({url} dataset sources, webhooks): they must not reach
// the service's own networks (server-side request forgery: loopback, private ranges, the cloud
// metadata address 169.254.169.254, …) unless OUTBOUND_ALLOW_PRIVATE=true says so.
//
// Two checks, because a name is not an address:
//  - checkOutboundUrl, at submit time and before every hop: the scheme, `localhost` names, and a
//    literal address in any spelling (WHATWG URL parsing turns 2130706433, 0x7f000001 and 0177.0.0.1
//    into 127.0.0.1 before we look);
//  - safeFetch, at connect time: the address a host name resolves to is checked in the socket's DNS
//    lookup itself, so a name that resolved to a public address at submit and to 127.0.0.1 now
//    (DNS rebinding) is refused, and the address checked is the address connected to.
// Why undici with a `connect.lookup` hook and not request-filtering-agent: that package filters
// node:http Agents, while this service fetches with WHATWG fetch (streams, AbortSignal); undici is
// Node's own fetch implementation, and its Agent passes `lookup` straight to net.connect, so the
// check sits exactly where the address is chosen. Redirects are followed by hand (bounded) so that
// every hop goes through both checks again. Errors never say whether a port answered: a refused
// destination is URL_HOST_NOT_ALLOWED, anything else one generic DOWNLOAD_FAILED.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { AppError } from './errors.js';
import { hostAllowed } from './url-policy.js';

export interface OutboundPolicy {
  /** OUTBOUND_ALLOW_PRIVATE: lifts the private-network rule (local mirrors, tests). */
  allowPrivate: boolean;
  /** Host allow-list on top (DOWNLOAD_ALLOWED_HOSTS, parsed by parseAllowedHosts); empty or absent: any. */
  allowedHosts?: readonly string[];
  /**
   * Addresses exempt from the private-network rule although it applies, e.g. one local mirror's
   * address without opening every private network (tests use it for a redirector of their own).
   */
  exemptAddresses?: readonly string[];
  /** Most redirects followed. Default 5. */
  maxRedirects?: number;
}

export const outboundPolicy = (config: { OUTBOUND_ALLOW_PRIVATE: boolean }, allowedHosts?: readonly string[]): OutboundPolicy => ({
  allowPrivate: config.OUTBOUND_ALLOW_PRIVATE,
  allowedHosts,
});

/** Whether an IP address is an ordinary public unicast one (not loopback, private, link-local, CGNAT, reserved, multicast, IPv4-mapped …). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // ipaddr.js names every special-purpose range (IANA registries); only plain unicast is public.
  // IPv4-mapped and the other IPv6 forms embedding an IPv4 address are refused outright.
  return ipaddr.parse(address).range() === 'unicast';
}

const notAllowed = (host: string) => new AppError('URL_HOST_NOT_ALLOWED', `Outbound requests to ${host} are not allowed`, { host });

const isLocalName = (host: string) => {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === 'localhost.localdomain';
};

function addressAllowed(address: string, policy: OutboundPolicy): boolean {
  return policy.allowPrivate || isPublicAddress(address) || (policy.exemptAddresses ?? []).includes(address);
}

/** Submit-time check of a URL (and of every redirect hop): throws AppError URL_HOST_NOT_ALLOWED. */
export function checkOutboundUrl(url: string | URL, policy: OutboundPolicy): void {
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw new AppError('INVALID_URL', 'Not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AppError('INVALID_URL', `Only http(s) URLs are fetched, not ${u.protocol}`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (policy.allowedHosts && !hostAllowed(u, policy.allowedHosts)) throw notAllowed(u.hostname);
  if (policy.allowPrivate) return;
  if (ipaddr.isValid(host)) {
    if (!addressAllowed(host, policy)) throw notAllowed(u.hostname);
  } else if (isLocalName(host)) {
    throw notAllowed(u.hostname);
  }
}

/** Marks the error a refused lookup raises, to tell it from other connection failures. */
class RefusedAddress extends Error {
  readonly code = 'EREFUSEDADDRESS';
  constructor(readonly host: string) {
    super(`${host} resolves to an address that is not allowed`);
  }
}

/** A net.connect lookup that resolves as usual and refuses every non-public address it would connect to. */
function filteringLookup(policy: OutboundPolicy): LookupFunction {
  return (hostname, options, callback) => {
    // net.connect asks for one address, or for all of them (autoSelectFamily); answer in kind.
    const done = callback as (err: Error | null, address?: string | dns.LookupAddress[], family?: number) => void;
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return done(err);
      const list = addresses as dns.LookupAddress[];
      const bad = list.find((a) => !addressAllowed(a.address, policy));
      if (bad || list.length === 0) return done(new RefusedAddress(hostname));
      if ((options as dns.LookupOptions).all) return done(null, list);
      return done(null, list[0]!.address, list[0]!.family);
    });
  };
}

const agents = new Map<string, Agent>();
function agentFor(policy: OutboundPolicy): Agent {
  const key = policy.allowPrivate ? 'open' : `filtered:${(policy.exemptAddresses ?? []).join(',')}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new Agent(policy.allowPrivate ? {} : { connect: { lookup: filteringLookup(policy) } });
    agents.set(key, agent);
  }
  return agent;
}

const causes = (err: unknown): unknown[] => {
  const out: unknown[] = [];
  for (let e = err; e && out.length < 5; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
};

/** The URL without credentials, query or fragment, for messages. */
const shown = (u: URL) => `${u.protocol}//${u.host}${u.pathname}`;

/**
 * fetch() for client-named URLs: both checks on every hop, redirects followed by hand (at most
 * policy.maxRedirects). Rejects with AppError URL_HOST_NOT_ALLOWED / DOWNLOAD_FAILED, or with the
 * abort reason when init.signal aborted. The response may have any status: callers decide.
 */
export async function safeFetch(url: string | URL, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array; signal?: AbortSignal }, policy: OutboundPolicy): Promise<Response> {
  const maxRedirects = policy.maxRedirects ?? 5;
  let current = typeof url === 'string' ? new URL(url) : url;
  const failed = () => new AppError('DOWNLOAD_FAILED', `Could not fetch ${shown(current)}`, { url: shown(current) });
  for (let hop = 0; ; hop++) {
    checkOutboundUrl(current, policy);
    let res: Response;
    try {
      res = (await undiciFetch(current, { ...init, redirect: 'manual', dispatcher: agentFor(policy) })) as unknown as Response;
    } catch (err) {
      if (init.signal?.aborted) throw init.signal.reason ?? err;
      if (causes(err).some((e) => e instanceof RefusedAddress)) throw notAllowed(current.hostname);
      throw failed();
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || location === null) return res;
    await res.body?.cancel().catch(() => {});
    if (hop >= maxRedirects) throw new AppError('DOWNLOAD_FAILED', `${shown(current)}: more than ${maxRedirects} redirects`);
    try {
      current = new URL(location, current);
    } catch {
      throw failed();
    }
  }
}
