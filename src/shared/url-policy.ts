// Which hosts a `{url}` dataset source may reach (DOWNLOAD_ALLOWED_HOSTS). The service fetches URLs
// that its clients name; an operator lists the hosts datasets may come from, so that a request cannot
// make the worker read internal addresses (server-side request forgery). Empty allows every host.

/** `a.example, *.b.example` → ['a.example', '*.b.example'] (lower case, blanks dropped). */
export function parseAllowedHosts(spec: string): string[] {
  return spec
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** Whether `url`'s host is one of `allowed`: an exact name or address, or `*.suffix` for subdomains. */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1'); // IPv6 without brackets
  return allowed.some((a) => (a.startsWith('*.') ? host.endsWith(a.slice(1)) : host === a.replace(/^\[(.*)\]$/, '$1')));
}
