import type { AccessRequest } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { harness, type Harness } from '../../helpers/harness';
import { countReads } from '../../helpers/read-counter';
import { seedRequests } from '../../helpers/seed';
import { ARN } from '../../helpers/settings';

/*
 * A revoke finds a request's extensions by walking its chain (the byExtends
 * index, one query per link), not by reading the requester's history: one
 * role that a whole Identity Center permission set signs in through makes
 * years of requests under one requester, and a revoke (the kill switch)
 * must not slow down, or run out of time, as that history grows.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** Requests of alice's that ended long ago, written straight into the table. */
function history(n: number): AccessRequest[] {
  return Array.from({ length: n }, (_, i) => {
    const id = `0H${String(i).padStart(24, '0')}`;
    return {
      id, version: 4, status: 'EXPIRED', requester: ARN.alice, principalArn: ARN.alice, accountId: '222222222222', accountAlias: 'staging',
      profile: 'ReadOnly', ruleId: 'staging-self-service', durationMinutes: 60, reason: 'old work', approvalsRequired: 0, approvals: [],
      createdAt: '2026-01-01T08:00:00.000Z', updatedAt: '2026-01-01T09:00:00.000Z', decisionDeadline: '2026-01-02T08:00:00.000Z',
      approvedAt: '2026-01-01T08:00:00.000Z', endsAt: '2026-01-01T09:00:00.000Z', endedAt: '2026-01-01T09:00:00.000Z',
      // Every tenth an extension of the one before it: chains that ended are not walked from a live request.
      ...(i % 10 === 9 ? { extendsRequestId: `0H${String(i - 1).padStart(24, '0')}` } : {}),
    };
  });
}

/** The reads (calls and items) one revoke of a live request with one live extension makes. */
async function revokeReads(): Promise<{ queries: number; items: number }> {
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'now' });
  await provisionRequest(h.deps, r.id);
  const extension = await extendRequest(h.deps, api(ARN.alice), r.id, { durationMinutes: 60, reason: 'more' });
  await provisionRequest(h.deps, extension.id);
  const reads = countReads(h.requests.doc);
  reads.reset();
  const revoked = await revokeRequest(h.deps, api(ARN.alice), r.id, 'done');
  expect(revoked.status).toBe('REVOKED');
  expect((await h.requests.get(extension.id))!.status).toBe('REVOKED');
  return { queries: reads.calls.QueryCommand ?? 0, items: reads.items };
}

it('reads the same for a requester with no history as for one with 1,000 ended requests', async () => {
  const fresh = await revokeReads();
  await h.close();
  h = await harness();
  await seedRequests(h.requests.doc, h.tableName, history(1_000));
  const seasoned = await revokeReads();

  expect(seasoned).toEqual(fresh);
  // Two passes (before and after the commit), each one query per link: the request and its extension.
  expect(fresh.queries).toBe(4);
});
