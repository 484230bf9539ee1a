import type { AccessRequest, AuditEvent, Decision, Grant } from '../../domain/model';
import { ValidationError } from '../../domain/errors';

/*
 * Single-table layout (see README, "The table").
 *   request   pk REQ#<id>        sk #REQUEST
 *   decision  pk REQ#<id>        sk DECISION#<approver, lowercased>
 *   event     pk REQ#<id>        sk EVENT#<at>#<event id>
 *   grant     pk GRANT#<account> sk ROLE#<roleName>
 * Indexes on requests: byStatus (gsi1), byPrincipal (gsi2, the requester),
 * byDue (sparse: only requests with due work, keyed by when it is due).
 * ISO-8601 UTC timestamps sort correctly as strings.
 */

export const REQUEST_SK = '#REQUEST';
export const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', 'duepk', 'duesk', 'type', 'leaseOwner', 'leaseUntil'] as const;

export const requestKey = (id: string) => ({ pk: `REQ#${id}`, sk: REQUEST_SK });

/** The due entry of a request, if it has due work: timeout, expiry, or provisioning. */
export function dueKeys(r: AccessRequest): { duepk: string; duesk: string } | undefined {
  if (r.status === 'PENDING') return { duepk: 'DUE#TIMEOUT', duesk: `${r.decisionDeadline}#${r.id}` };
  if (r.status === 'ACTIVE' && r.endsAt) return { duepk: 'DUE#EXPIRE', duesk: `${r.endsAt}#${r.id}` };
  if (r.status === 'APPROVED' || (r.status === 'FAILED' && r.retryRequested)) return { duepk: 'DUE#PROVISION', duesk: `${r.updatedAt}#${r.id}` };
  return undefined;
}

export function requestItem(r: AccessRequest): Record<string, unknown> {
  return {
    ...r,
    ...requestKey(r.id),
    type: 'request',
    gsi1pk: `STATUS#${r.status}`,
    gsi1sk: `${r.createdAt}#${r.id}`,
    gsi2pk: `PRINCIPAL#${r.requester.toLowerCase()}`,
    gsi2sk: `${r.createdAt}#${r.id}`,
    ...dueKeys(r),
  };
}

export const decisionItem = (d: Decision) => ({ ...d, pk: `REQ#${d.requestId}`, sk: `DECISION#${d.approver.toLowerCase()}`, type: 'decision' });
export const eventItem = (e: AuditEvent) => ({ ...e, pk: `REQ#${e.requestId}`, sk: `EVENT#${e.at}#${e.id}`, type: 'event' });

export function grantKeyParts(grantKey: string): { accountId: string; roleName: string } {
  const i = grantKey.indexOf('#');
  if (i < 0) throw new Error(`malformed grant key ${grantKey}`);
  return { accountId: grantKey.slice(0, i), roleName: grantKey.slice(i + 1) };
}

export const grantItemKey = (grantKey: string) => {
  const { accountId, roleName } = grantKeyParts(grantKey);
  return { pk: `GRANT#${accountId}`, sk: `ROLE#${roleName}` };
};

export const grantItem = (g: Grant) => ({ ...g, ...grantItemKey(g.grantKey), type: 'grant' });

/** Drops the storage attributes so callers get plain domain objects. */
export function strip<T>(item: Record<string, unknown>): T {
  const copy: Record<string, unknown> = { ...item };
  for (const k of KEY_ATTRIBUTES) delete copy[k];
  return copy as T;
}

/** Cursors are opaque to callers: base64url JSON of DynamoDB's LastEvaluatedKey, checked on the way back. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

export function decodeCursor(cursor: string | undefined, expectedKeys: readonly string[]): Record<string, unknown> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.keys(value).length === expectedKeys.length &&
      expectedKeys.every((k) => typeof (value as Record<string, unknown>)[k] === 'string')
    ) {
      return value as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  throw new ValidationError('The cursor is not valid.', [{ field: 'cursor', reason: 'is not a cursor this listing returned' }]);
}
