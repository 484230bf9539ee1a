import { createHash } from 'node:crypto';
import type { AccessRequest, AuditEvent, Decision, Grant } from '../../domain/model';
import type { Claimant } from '../../domain/ports';
import { ValidationError } from '../../domain/errors';
import { parsePrincipalArn } from '../../domain/principal';

/*
 * Single-table layout (see README, "The table").
 *   request   pk REQ#<id>        sk #REQUEST
 *   decision  pk REQ#<id>        sk DECISION#<approver, lowercased>
 *   event     pk REQ#<id>        sk EVENT#<at>#<event id>
 *   grant     pk GRANT#<account> sk ROLE#<roleName>
 *   claim     pk CLAIM#<hash>    sk #CLAIM   (an idempotency key, by requester; TTL)
 *   report    pk REPORT#<subject> sk #REPORT (the last time a finding was audited; TTL)
 * Indexes on requests: byStatus (gsi1), byPrincipal (gsi2, the requester),
 * byDue (sparse: only requests with due work, keyed by when it is due),
 * byExtends (sparse: only extensions, keyed by the request's own
 * extendsRequestId attribute).
 * ISO-8601 UTC timestamps (Date#toISOString, always 24 characters) sort
 * correctly as strings, which is what every range key here relies on.
 */

export const REQUEST_SK = '#REQUEST';
export const DECISION_SK_PREFIX = 'DECISION#';
export const EVENT_SK_PREFIX = 'EVENT#';
export const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'duepk', 'duesk', 'type', 'leaseOwner', 'leaseUntil'] as const;

export type ItemType = 'request' | 'decision' | 'event' | 'grant' | 'claim' | 'report';

export const requestPk = (id: string) => `REQ#${id}`;
export const requestKey = (id: string) => ({ pk: requestPk(id), sk: REQUEST_SK });
export const statusPk = (status: string) => `STATUS#${status}`;
export const principalPk = (arn: string) => `PRINCIPAL#${principalIdentity(arn)}`;

/**
 * A principal as one partition and one claimant sees it: its ARN without the
 * path, lower-cased. ARNs differ in case between sources (console, CLI, SAML),
 * and a role's path between a session seen before and after `rolePaths`
 * named it: one user or role is one principal (principalKey's identity). An
 * ARN without a path keys as it always did.
 */
export function principalIdentity(arn: string): string {
  const p = parsePrincipalArn(arn.toLowerCase());
  return `arn:${p.partition}:iam::${p.accountId}:${p.type}/${p.name}`;
}
export const duePk = (kind: string) => `DUE#${kind}`;

/**
 * The due entry of a request, if it has due work: timeout, expiry, or
 * provisioning. A timeout or expiry the sweeper failed at is filed at its
 * next attempt instead (never earlier than it is due), so it queues behind
 * work that fell due meanwhile rather than in front of it.
 */
export function dueKeys(r: AccessRequest): { duepk: string; duesk: string } | undefined {
  const putOff = (kind: 'TIMEOUT' | 'EXPIRE', due: string) => {
    const next = r.sweepRetry?.kind === kind ? r.sweepRetry.nextAttemptAt : undefined;
    return next !== undefined && next > due ? next : due;
  };
  if (r.status === 'PENDING') return { duepk: duePk('TIMEOUT'), duesk: `${putOff('TIMEOUT', r.decisionDeadline)}#${r.id}` };
  if (r.status === 'ACTIVE' && r.endsAt) return { duepk: duePk('EXPIRE'), duesk: `${putOff('EXPIRE', r.endsAt)}#${r.id}` };
  if (r.status === 'APPROVED') return { duepk: duePk('PROVISION'), duesk: `${r.updatedAt}#${r.id}` };
  return undefined;
}

/**
 * The whole request item. Writes replace the item (Put), so a request with
 * no due work carries no due attributes and drops out of the sparse index.
 */
export function requestItem(r: AccessRequest): Record<string, unknown> {
  return {
    ...r,
    ...requestKey(r.id),
    type: 'request' satisfies ItemType,
    gsi1pk: statusPk(r.status),
    gsi1sk: `${r.createdAt}#${r.id}`,
    gsi2pk: principalPk(r.requester),
    gsi2sk: `${r.createdAt}#${r.id}`,
    ...dueKeys(r),
  };
}

export const decisionKey = (d: Pick<Decision, 'requestId' | 'approver'>) => ({ pk: requestPk(d.requestId), sk: `${DECISION_SK_PREFIX}${d.approver.toLowerCase()}` });
export const decisionItem = (d: Decision) => ({ ...d, ...decisionKey(d), type: 'decision' satisfies ItemType });

export const eventKey = (e: Pick<AuditEvent, 'requestId' | 'at' | 'id'>) => ({ pk: requestPk(e.requestId), sk: `${EVENT_SK_PREFIX}${e.at}#${e.id}` });
export const eventItem = (e: AuditEvent) => ({ ...e, ...eventKey(e), type: 'event' satisfies ItemType });

/**
 * An idempotency key's item: one partition per claimant and key, hashed, as
 * an ARN, a person and a key together may pass DynamoDB's 2 KiB partition
 * key limit. The requester is keyed as principalIdentity: one person's ARN
 * differs in case and path between sources.
 */
export const claimKey = (claimant: Claimant, key: string) => ({
  pk: `CLAIM#${createHash('sha256').update(`${principalIdentity(claimant.requester)}\n${claimant.person ?? ''}\n${key}`).digest('base64url')}`,
  sk: '#CLAIM',
});

export const reportKey = (subject: string) => ({ pk: `REPORT#${subject}`, sk: '#REPORT' });

export function grantKeyParts(grantKey: string): { accountId: string; roleName: string } {
  const i = grantKey.indexOf('#');
  if (i <= 0 || i === grantKey.length - 1) throw new Error(`malformed grant key ${grantKey}`);
  return { accountId: grantKey.slice(0, i), roleName: grantKey.slice(i + 1) };
}

export const grantPk = (accountId: string) => `GRANT#${accountId}`;

export const grantItemKey = (grantKey: string) => {
  const { accountId, roleName } = grantKeyParts(grantKey);
  return { pk: grantPk(accountId), sk: `ROLE#${roleName}` };
};

export const grantItem = (g: Grant) => ({ ...g, ...grantItemKey(g.grantKey), type: 'grant' satisfies ItemType });

/** Drops the storage attributes so callers get plain domain objects. */
export function strip<T>(item: Record<string, unknown>): T {
  const copy: Record<string, unknown> = { ...item };
  for (const k of KEY_ATTRIBUTES) delete copy[k];
  return copy as T;
}

const CURSOR_ID = /^REQ#([0-9A-Za-z_-]{1,64})$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/**
 * Every listing pages over request items: `pk` is `REQ#<id>` and the index's
 * sort key `<time>#<id>` of the same id. Anything else (an empty or oversized
 * key DynamoDB would reject with a 500, a position mixing two requests) is
 * not a cursor rolegate issued.
 */
function wellFormedPosition(key: Record<string, string>, expectedKeys: readonly string[]): boolean {
  const id = CURSOR_ID.exec(key.pk ?? '')?.[1];
  if (!id) return false;
  return expectedKeys
    .filter((k) => k !== 'sk' && k.endsWith('sk'))
    .every((k) => {
      const value = key[k]!;
      const at = value.lastIndexOf('#');
      return at > 0 && value.slice(at + 1) === id && ISO_TIME.test(value.slice(0, at));
    });
}

/** Cursors are opaque to callers: base64url JSON of DynamoDB's LastEvaluatedKey, checked on the way back. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

/**
 * Decodes a cursor this store issued for the same listing. `fixed` pins the
 * attributes a genuine cursor must carry (the queried partition, the request
 * item's sort key): a cursor from another listing, or made up, is refused
 * here rather than turned into an opaque DynamoDB error or a wrong page.
 */
export function decodeCursor(cursor: string | undefined, expectedKeys: readonly string[], fixed: Record<string, string> = {}): Record<string, unknown> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.keys(value).length === expectedKeys.length &&
      expectedKeys.every((k) => typeof (value as Record<string, unknown>)[k] === 'string') &&
      Object.entries(fixed).every(([k, v]) => (value as Record<string, unknown>)[k] === v) &&
      wellFormedPosition(value as Record<string, string>, expectedKeys)
    ) {
      return value as Record<string, unknown>;
    }
  } catch {
    // Not base64url JSON: refused below like any other foreign cursor.
  }
  throw new ValidationError('The cursor is not valid.', [{ field: 'cursor', reason: 'is not a cursor this listing returned' }]);
}
