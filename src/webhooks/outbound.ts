// Every outbound request of the webhooks module goes through these functions, on top of the
// service's outbound URL policy (src/shared/outbound.ts: no private networks unless
// OUTBOUND_ALLOW_PRIVATE, checked again at connect time against the resolved address).
import { AppError } from '../shared/errors.js';
import { checkOutboundUrl, safeFetch, type OutboundPolicy } from '../shared/outbound.js';

/** Refuses a URL a webhook or callbackUrl may not name (400 WEBHOOK_URL_NOT_ALLOWED / URL_HOST_NOT_ALLOWED). */
export function checkWebhookUrl(raw: string, policy: OutboundPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('WEBHOOK_URL_NOT_ALLOWED', `Not a URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AppError('WEBHOOK_URL_NOT_ALLOWED', 'Webhook URLs must be http or https');
  if (url.username || url.password) throw new AppError('WEBHOOK_URL_NOT_ALLOWED', 'Webhook URLs may not hold credentials');
  checkOutboundUrl(url, policy);
  return url;
}

/** One delivery request: no redirects followed (a receiver answers, it does not send us elsewhere). */
export function deliveryFetch(url: string, init: Parameters<typeof safeFetch>[1], policy: OutboundPolicy): Promise<Response> {
  checkWebhookUrl(url, policy);
  return safeFetch(url, init, { ...policy, maxRedirects: 0 });
}

/** A job's callbackUrl: a webhook URL, and the service must have a secret to sign its deliveries with. */
export function checkCallbackUrl(url: string, secret: string, policy: OutboundPolicy): void {
  checkWebhookUrl(url, policy);
  if (!secret) throw new AppError('CALLBACK_URL_DISABLED', 'callbackUrl needs the service to be configured with CALLBACK_SECRET');
}
