import { randomUUID } from 'node:crypto';
import type { AccessRequest, AuditAction } from '../../domain/model';
import type { Clock, Logger, Notification, NotificationKind, Notifier } from '../../domain/ports';
import type { Settings } from '../../domain/settings';
import type { SecretSource } from '../secrets/secret-source';
import { signWebhook, WEBHOOK_HEADERS } from './signer';

/*
 * Signed outgoing webhooks (scheme: signer.ts). Every matching webhook gets
 * the same body; each is retried on its own and a failure of one never
 * stops the others. Failures are collected and thrown together so that the
 * caller audits them; the request itself is never touched.
 */

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;
export type WebhookSettings = Settings['webhooks'][number];

type PublicField =
  | 'id' | 'version' | 'status' | 'requester' | 'principalArn' | 'principalSession' | 'accountId' | 'accountAlias' | 'profile' | 'ruleId'
  | 'durationMinutes' | 'reason' | 'ticket' | 'approvalsRequired' | 'approvals' | 'createdAt' | 'updatedAt'
  | 'decisionDeadline' | 'approvedAt' | 'endsAt' | 'endedAt' | 'extendsRequestId';

/** The request fields a subscriber sees: no provisioning plan, lease keys or internal counters. */
export type PublicRequest = Pick<AccessRequest, PublicField> & {
  roleArn?: string;
  failure?: { code: string; message: string; retryable: boolean };
};

export interface WebhookEvent {
  id: string;
  kind: NotificationKind;
  /** The audit trail's name for the change (tells a retry, RETRY_REQUESTED, from an approval); absent on notifications made outside it. */
  action?: AuditAction;
  at: string;
  request: PublicRequest;
  actor: string;
  comment?: string;
}

export function publicRequest(r: AccessRequest): PublicRequest {
  return {
    id: r.id,
    version: r.version,
    status: r.status,
    requester: r.requester,
    principalArn: r.principalArn,
    // A personal grant: who alone among the principal role's sessions may use it.
    ...(r.principalSession !== undefined ? { principalSession: r.principalSession } : {}),
    accountId: r.accountId,
    accountAlias: r.accountAlias,
    profile: r.profile,
    ruleId: r.ruleId,
    durationMinutes: r.durationMinutes,
    reason: r.reason,
    ...(r.ticket !== undefined ? { ticket: r.ticket } : {}),
    approvalsRequired: r.approvalsRequired,
    approvals: [...r.approvals],
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    decisionDeadline: r.decisionDeadline,
    ...(r.approvedAt !== undefined ? { approvedAt: r.approvedAt } : {}),
    ...(r.endsAt !== undefined ? { endsAt: r.endsAt } : {}),
    ...(r.endedAt !== undefined ? { endedAt: r.endedAt } : {}),
    ...(r.extendsRequestId !== undefined ? { extendsRequestId: r.extendsRequestId } : {}),
    ...(r.access ? { roleArn: r.access.roleArn } : {}),
    ...(r.failure ? { failure: { code: r.failure.code, message: r.failure.message, retryable: r.failure.retryable } } : {}),
  };
}

export interface WebhookFailure {
  /** `webhooks[<index>] <origin>`: the path of many webhook URLs is itself a secret, so it is never shown. */
  webhook: string;
  reason: string;
  attempts: number;
}

/** One or more webhooks could not be delivered. */
export class WebhookDeliveryError extends AggregateError {
  constructor(readonly failures: WebhookFailure[]) {
    super(
      failures.map((f) => new Error(`${f.webhook}: ${f.reason}`)),
      `Webhook delivery failed for ${failures.map((f) => `${f.webhook} (${f.reason}, ${f.attempts} attempt${f.attempts === 1 ? '' : 's'})`).join('; ')}`,
    );
    this.name = 'WebhookDeliveryError';
  }
}

export interface WebhookNotifierDeps {
  webhooks: readonly WebhookSettings[];
  secrets: SecretSource;
  clock: Clock;
  fetch?: FetchLike;
  sleep?: (ms: number) => Promise<void>;
  /** Event and delivery ids (default: random UUIDs). */
  newId?: () => string;
  logger?: Logger;
  /** Attempts per webhook, the first included (default 3). */
  attempts?: number;
  /** Backoff before attempt n+1: baseDelayMs × 2^(n-1) (default 500 ms: 0.5 s, 1 s). */
  baseDelayMs?: number;
  /** Per attempt (default 5 s). */
  timeoutMs?: number;
  /**
   * Time for one delivery, from the read of its secret (default 20 s): a
   * retry that could end later is not started. Three timed-out attempts take
   * 16.5 s; a 429 asking for 10 s gets two. It bounds what one notification
   * costs the worker (see serverless.yml).
   */
  deadlineMs?: number;
}

type AttemptResult = { ok: true } | { ok: false; retryable: boolean; reason: string; retryAfterMs?: number };

function label(webhook: WebhookSettings, index: number): string {
  let origin = 'invalid URL';
  try {
    origin = new URL(webhook.url).origin;
  } catch {
    // Validated by the settings schema; kept defensive for hand-built settings.
  }
  return `webhooks[${index}] ${origin}`;
}

function subscribes(webhook: WebhookSettings, kind: NotificationKind): boolean {
  return webhook.events.includes('*') || webhook.events.includes(kind);
}

export class WebhookNotifier implements Notifier {
  private readonly fetch: FetchLike;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly newId: () => string;

  constructor(private readonly deps: WebhookNotifierDeps) {
    this.fetch = deps.fetch ?? ((url, init) => fetch(url, init));
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.newId = deps.newId ?? randomUUID;
  }

  async notify(n: Notification): Promise<void> {
    const targets = this.deps.webhooks.map((w, i) => ({ webhook: w, index: i })).filter((t) => subscribes(t.webhook, n.kind));
    if (targets.length === 0) return;
    const event: WebhookEvent = {
      // The audit event's id when there is one: the same on a repeated delivery, so receivers can drop it.
      id: n.id ?? this.newId(),
      kind: n.kind,
      ...(n.action !== undefined ? { action: n.action } : {}),
      at: n.at,
      request: publicRequest(n.request),
      actor: n.actor,
      ...(n.comment !== undefined ? { comment: n.comment } : {}),
    };
    // Serialised once: every webhook and every attempt signs the very same bytes.
    const body = JSON.stringify(event);
    const results = await Promise.all(targets.map((t) => this.deliver(t.webhook, label(t.webhook, t.index), n.kind, body)));
    const failures = results.filter((f): f is WebhookFailure => f !== undefined);
    if (failures.length) throw new WebhookDeliveryError(failures);
  }

  /** Delivers to one webhook with retries; returns the failure, if any. */
  private async deliver(webhook: WebhookSettings, name: string, kind: NotificationKind, body: string): Promise<WebhookFailure | undefined> {
    // From before the secret is read: a slow SSM (a first read, or its retries) takes from the same 20 s.
    const deadline = this.deps.clock.now().getTime() + (this.deps.deadlineMs ?? 20_000);
    let secret: string;
    try {
      secret = await this.deps.secrets.get(webhook.secretParameter);
    } catch (e) {
      return { webhook: name, reason: `secret unavailable: ${e instanceof Error ? e.message : String(e)}`, attempts: 0 };
    }
    const deliveryId = this.newId();
    const maxAttempts = Math.max(1, this.deps.attempts ?? 3);
    const baseDelay = this.deps.baseDelayMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      const result = await this.attempt(webhook.url, secret, kind, deliveryId, body);
      if (result.ok) return undefined;
      this.deps.logger?.warn('webhook delivery attempt failed', { webhook: name, attempt, reason: result.reason, retryable: result.retryable, kind });
      if (!result.retryable || attempt >= maxAttempts) return { webhook: name, reason: result.reason, attempts: attempt };
      const wait = Math.max(baseDelay * 2 ** (attempt - 1), result.retryAfterMs ?? 0);
      if (this.deps.clock.now().getTime() + wait + (this.deps.timeoutMs ?? 5000) > deadline) {
        return { webhook: name, reason: `${result.reason}, no time left to retry`, attempts: attempt };
      }
      await this.sleep(wait);
    }
  }

  private async attempt(url: string, secret: string, kind: NotificationKind, deliveryId: string, body: string): Promise<AttemptResult> {
    // Signed afresh on each attempt, so that a late retry is still within the receiver's window.
    const timestamp = Math.floor(this.deps.clock.now().getTime() / 1000);
    let res: Response;
    try {
      res = await this.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'rolegate-webhook/1',
          [WEBHOOK_HEADERS.event]: kind,
          [WEBHOOK_HEADERS.delivery]: deliveryId,
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: signWebhook(secret, timestamp, body),
        },
        body,
        // A redirect would resend a signed event somewhere nobody configured.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.deps.timeoutMs ?? 5000),
      });
    } catch (e) {
      const name = (e as { name?: string }).name;
      const code = (e as { cause?: { code?: unknown } }).cause?.code;
      const reason = name === 'TimeoutError' || name === 'AbortError' ? 'timed out' : `network error (${typeof code === 'string' ? code : (name ?? 'Error')})`;
      return { ok: false, retryable: true, reason };
    }
    // Free the connection; the receiver's answer carries nothing we use.
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true };
    const reason = `HTTP ${res.status}`;
    if (res.status === 429) {
      const seconds = Number(res.headers.get('retry-after'));
      return { ok: false, retryable: true, reason, ...(Number.isFinite(seconds) && seconds > 0 ? { retryAfterMs: Math.min(seconds, 10) * 1000 } : {}) };
    }
    return { ok: false, retryable: res.status >= 500, reason };
  }
}
