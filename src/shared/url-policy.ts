// Which hosts a `{url}` dataset source may reach (DOWNLOAD_ALLOWED_HOSTS). The service fetches URLs
// that its clients name; an operator lists the hosts datasets may come from, so that a request cannot
// make the worker read internal addresses (server-side request forgery). Empty allows every host.

/** A host as compared: lower case, an IPv6 address without its brackets. */
const normalHost = (host: string) => host.toLowerCase().replace(/^\[(.*)\]$/, '$1');

/** `a.example, *.b.example, [::1]` → ['a.example', '*.b.example', '::1'] (normalized, blanks dropped). */
export function parseAllowedHosts(spec: string): string[] {
  return spec
    .split(',')
    .map((h) => normalHost(h.trim()))
    .filter(Boolean);
}

/** Whether `url`'s host is one of `allowed` (as parseAllowedHosts gives them): an exact name or address, or `*.suffix` for subdomains. */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const host = normalHost(url.hostname);
  return allowed.some((a) => (a.startsWith('*.') ? host.endsWith(a.slice(1)) : host === a));
}
