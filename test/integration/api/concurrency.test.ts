import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { ConflictError } from '../../../src/domain/errors';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { httpApp } from '../../../src/handlers/http/app';
import { identityOptionsFor } from '../../../src/handlers/http/middlewares';
import { routes } from '../../../src/handlers/http/routes';
import { INTERACTIVE_LEASE_ATTEMPTS, interactiveDeps } from '../../../src/handlers/lease-waits';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { countingAcquires, holdLease } from '../../helpers/leases';
import { ARN } from '../../helpers/settings';

describe('concurrent approvals', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('records exactly two decisions and one transition when 50 approvers race on a two-approval request', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'race' });
    const approvers = Array.from({ length: 50 }, (_, i) => `arn:aws:iam::111111111111:user/${i % 2 ? 'lead' : 'sre'}-${i}`);

    const results = await Promise.allSettled(approvers.map((arn) => decideRequest(h.deps, { arn, via: 'api' }, { requestId: request.id, decision: 'APPROVE' })));

    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(48);
    expect(refused.every((r) => r.reason instanceof ConflictError)).toBe(true);
    const detail = await h.requests.getDetail(request.id);
    expect(detail!.request.status).toBe('APPROVED');
    expect(detail!.request.approvals).toHaveLength(2);
    expect(detail!.decisions).toHaveLength(2);
    expect(detail!.events.filter((e: { action: string }) => e.action === 'APPROVED')).toHaveLength(1);
    expect(detail!.events.filter((e: { action: string }) => e.action === 'APPROVAL_RECORDED')).toHaveLength(1);
    expect(h.queue.ids).toEqual([request.id]);
  });
});

describe('a revoke through the API while the worker holds the grant', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('gives up after the API\'s few lease attempts with a 409 GRANT_BUSY that says to try again (not a 5xx that pages), and changes nothing', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    await provisionRequest(h.deps, request.id);
    const active = (await h.requests.get(request.id))!;
    await holdLease(h, active.grantKey!, 'the-worker');
    const { grants, attempts } = countingAcquires(h.grants);
    // The harness allows 400 attempts (for its races); the API's own budget must win.
    const api = httpApp(routes, () => interactiveDeps({ ...h.deps, grants }), h.logger, identityOptionsFor(h.deps.settings, false));

    const reply = await call(api, { method: 'POST', path: `/requests/${request.id}/revoke`, caller: ARN.alice, body: {} });

    expect(reply.status).toBe(409);
    expect(reply.headers['retry-after']).toBe('5');
    expect(reply.body).toEqual({ error: 'GRANT_BUSY', message: `Request ${request.id} is not revoked: another change to its grant ${active.grantKey} is in progress. Repeat the revoke in a few seconds.` });
    expect(attempts()).toBe(INTERACTIVE_LEASE_ATTEMPTS);
    expect(await h.requests.get(request.id)).toMatchObject({ status: 'ACTIVE', version: active.version });
  });

  it('says the request is not revoked and that the extension it already ended stays ended, when the grant is busy after its pending extension was cancelled', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'work' });
    await decideRequest(h.deps, { arn: ARN.leadAnna, via: 'api' }, { requestId: request.id, decision: 'APPROVE' });
    await decideRequest(h.deps, { arn: ARN.leadBen, via: 'api' }, { requestId: request.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, request.id);
    const extension = await extendRequest(h.deps, { arn: ARN.alice, via: 'api' }, request.id, { durationMinutes: 30, reason: 'more' });
    const active = (await h.requests.get(request.id))!;
    await holdLease(h, active.grantKey!, 'the-sweeper');
    const api = httpApp(routes, () => interactiveDeps(h.deps), h.logger, identityOptionsFor(h.deps.settings, false));

    const reply = await call(api, { method: 'POST', path: `/requests/${request.id}/revoke`, caller: ARN.alice, body: {} });

    expect(reply.status).toBe(409);
    expect(reply.body).toEqual({
      error: 'GRANT_BUSY',
      message: `Request ${request.id} is not revoked: another change to its grant ${active.grantKey} is in progress. Repeat the revoke in a few seconds. 1 of its extensions was already ended and stays ended.`,
    });
    expect(await h.requests.get(request.id)).toMatchObject({ status: 'ACTIVE', version: active.version });
    expect(await h.requests.get(extension.id)).toMatchObject({ status: 'CANCELLED' });
  });
});
