import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * # Verifying rolegate webhooks
 *
 * rolegate sends an HTTP `POST` with a JSON body (`content-type:
 * application/json`) to each configured webhook on every change of a
 * request. Each delivery carries these headers:
 *
 * | header                 | value                                                            |
 * |------------------------|------------------------------------------------------------------|
 * | `x-rolegate-event`     | the event kind, e.g. `request.approved`                          |
 * | `x-rolegate-delivery`  | an id of this delivery, the same on its retries (for your logs)  |
 * | `x-rolegate-timestamp` | when it was signed, in whole seconds since the Unix epoch        |
 * | `x-rolegate-signature` | `v1=` followed by the signature, 64 lowercase hex characters     |
 *
 * To verify a delivery:
 * 1. Take the raw request body exactly as received (bytes), before any JSON
 *    parsing: re-serialised JSON will not match.
 * 2. Build the signed content: the `x-rolegate-timestamp` value, a full stop
 *    `.`, then the raw body — `"<timestamp>.<body>"`.
 * 3. Compute HMAC-SHA256 over it, keyed with the webhook's secret (the UTF-8
 *    value of the parameter that `secretParameter` names), as lowercase hex.
 * 4. Compare `v1=<hex>` with the `x-rolegate-signature` header in constant
 *    time (e.g. Node's `crypto.timingSafeEqual`, Python's
 *    `hmac.compare_digest`). Reject on any difference.
 * 5. Reject when the timestamp is not a whole number or is more than 300
 *    seconds away from your clock, in the past or the future (replays).
 * 6. To drop repeats, keep the body's `id` (the audit event's: the same
 *    whenever the event is sent again, by a retry or after a worker crash,
 *    which sends it as a new delivery) and ignore an id seen before.
 *
 * In Node.js (or use verifyWebhook below):
 * ```js
 * const expected = Buffer.from('v1=' + crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex'));
 * const given = Buffer.from(String(signature ?? ''));
 * const ok = given.length === expected.length && crypto.timingSafeEqual(given, expected)
 *   && /^\d+$/.test(String(timestamp)) && Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300;
 * ```
 *
 * The body:
 * ```json
 * {
 *   "id": "event id (the same for every webhook and every retry)",
 *   "kind": "request.approved",
 *   "action": "APPROVED (or AUTO_APPROVED, or RETRY_REQUESTED for a retry after a failure)",
 *   "at": "2025-01-01T12:00:00.000Z",
 *   "request": { "id": "…", "version": 3, "status": "APPROVED", "requester": "arn:…", "accountId": "…", "profile": "…", … },
 *   "actor": "arn:aws:iam::111111111111:user/lead-anna",
 *   "comment": "optional text"
 * }
 * ```
 * `kind` says what happened; `request` is the request as it stands when the
 * notification is sent, which may already show a later change, so two
 * deliveries may carry the same `request.version`. It grows with every change
 * of a request, and deliveries may arrive out of order: keep the request with
 * the highest version you have seen.
 *
 * Answer with any 2xx within 5 seconds. rolegate makes up to 3 attempts with
 * exponential backoff on network errors, timeouts, 5xx and 429; any other
 * status (including 3xx — redirects are not followed) is not retried.
 */

export const WEBHOOK_TOLERANCE_SECONDS = 300;

export const WEBHOOK_HEADERS = {
  event: 'x-rolegate-event',
  delivery: 'x-rolegate-delivery',
  timestamp: 'x-rolegate-timestamp',
  signature: 'x-rolegate-signature',
} as const;

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export function signWebhook(secret: string, timestamp: number | string, body: string): string {
  if (!secret) throw new Error('The webhook secret is empty.');
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body, 'utf8').digest('hex')}`;
}

export interface VerifyWebhookInput {
  secret: string;
  /** The `x-rolegate-timestamp` header. */
  timestamp: string | undefined | null;
  /** The `x-rolegate-signature` header. */
  signature: string | undefined | null;
  /** The raw body, exactly as received. */
  body: string;
  now?: Date;
  toleranceSeconds?: number;
}

/** For receivers: true when the delivery is signed with `secret` and was signed within the tolerance. */
export function verifyWebhook(input: VerifyWebhookInput): boolean {
  const { secret, timestamp, signature, body } = input;
  if (!secret || !timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - Number(timestamp)) > (input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body), 'utf8');
  const received = Buffer.from(signature, 'utf8');
  return expected.length === received.length && timingSafeEqual(expected, received);
}
