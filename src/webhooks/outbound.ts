// Every outbound request of the webhooks module goes through these two functions.
// TODO(merge with the hardening issue): replace both bodies with src/shared/outbound.ts,
// `checkOutboundUrl(url, policy)` at registration and `safeFetch(url, init, policy)` for delivery
// (private addresses, redirects, DNS rebinding). Until then only the scheme and credentials are checked.
import { AppError } from '../shared/errors.js';

/** Refuses a URL a webhook or callbackUrl may not name (400 WEBHOOK_URL_NOT_ALLOWED). */
export function checkWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('WEBHOOK_URL_NOT_ALLOWED', `Not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AppError('WEBHOOK_URL_NOT_ALLOWED', 'Webhook URLs must be http or https');
  if (url.username || url.password) throw new AppError('WEBHOOK_URL_NOT_ALLOWED', 'Webhook URLs may not hold credentials');
  return url;
}

/** One delivery request: no redirects followed (a receiver answers, it does not send us elsewhere). */
export function deliveryFetch(url: string, init: RequestInit): Promise<Response> {
  checkWebhookUrl(url);
  return fetch(url, { ...init, redirect: 'manual' });
}

/** A job's callbackUrl: a webhook URL, and the service must have a secret to sign its deliveries with. */
export function checkCallbackUrl(url: string, secret: string): void {
  checkWebhookUrl(url);
  if (!secret) throw new AppError('CALLBACK_URL_DISABLED', 'callbackUrl needs the service to be configured with CALLBACK_SECRET');
}
