import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';

/*
 * Who may act on someone else's request, route by route, beside the
 * approvals covered elsewhere: only the requester extends or cancels, and an
 * approval through another session of the requester's own role is still the
 * requester's. Each refusal is a 403 that writes nothing; each has a positive
 * control, so the refusal comes from who asks. On DynamoDB Local, through the
 * HTTP API.
 */

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const post = (path: string, caller: string, body: unknown = {}) => call(h.api, { method: 'POST', path, caller, body });

/** Alice's staging access (auto-approved), provisioned: ACTIVE. */
async function aliceActive(): Promise<string> {
  const created = await post('/requests', ARN.alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'check a deploy' });
  expect(created.status).toBe(201);
  const id = created.body.request.id as string;
  expect((await provisionRequest(h.deps, id)).outcome).toBe('active');
  return id;
}

it('only the requester extends a request: another user and an approver get a 403 and write nothing', async () => {
  const id = await aliceActive();
  const before = await allItems(h);

  for (const caller of [ARN.bob, ARN.leadAnna]) {
    const res = await post(`/requests/${id}/extend`, caller, { durationMinutes: 60, reason: 'more time' });
    expect(res).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: 'Only the requester may extend a request.' } });
  }
  expect(await allItems(h)).toEqual(before);

  const own = await post(`/requests/${id}/extend`, ARN.alice, { durationMinutes: 60, reason: 'more time' });
  expect(own.status).toBe(201);
  expect(own.body.request).toMatchObject({ extendsRequestId: id, requester: ARN.alice });
});

it('only the requester cancels: an approver of its rule and the workload it is for get a 403 and write nothing', async () => {
  const created = await post('/requests', ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'billing job', principalArn: ARN.appRole });
  const id = created.body.request.id as string;
  const before = await allItems(h);

  for (const caller of [ARN.leadAnna, ARN.appRole]) {
    const res = await post(`/requests/${id}/cancel`, caller);
    expect(res).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: 'Only the requester may cancel a request.' } });
  }
  expect(await allItems(h)).toEqual(before);

  expect((await post(`/requests/${id}/cancel`, ARN.alice)).body.request.status).toBe('CANCELLED');
});

it('a role that asked through one session cannot approve through another session, however its name is cased', async () => {
  h.deps.settings = settingsWith((doc) => {
    const rule = (doc.rules as { id: string; requesters: string[]; approvers: string[] }[]).find((r) => r.id === 'production-read')!;
    rule.requesters.push('arn:aws:iam::111111111111:role/*');
    rule.approvers.push('arn:aws:iam::111111111111:role/lead-*');
  });
  const created = await post('/requests', 'arn:aws:sts::111111111111:assumed-role/lead-ops/s1', { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
  expect(created.body.request.requester).toBe('arn:aws:iam::111111111111:role/lead-ops');
  const id = created.body.request.id as string;
  const before = await allItems(h);

  for (const caller of ['arn:aws:sts::111111111111:assumed-role/lead-ops/s2', 'arn:aws:sts::111111111111:assumed-role/LEAD-OPS/s3']) {
    const res = await post(`/requests/${id}/approve`, caller);
    expect(res).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: 'Nobody may decide on their own request.' } });
  }
  expect(await allItems(h)).toEqual(before);

  const other = await post(`/requests/${id}/approve`, 'arn:aws:sts::111111111111:assumed-role/lead-sec/s1');
  expect(other.body.request).toMatchObject({ status: 'APPROVED', approvals: ['arn:aws:iam::111111111111:role/lead-sec'] });
});

it('a request no rule allows is a 403 naming the account as the caller gave it, never its id for its alias or the reverse, nor whether it exists', async () => {
  const stranger = ARN.otherRole;
  const byAlias = await post('/requests', stranger, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' });
  expect(byAlias).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: `No rule lets ${stranger} request profile "ReadOnly" in account production.` } });
  const byId = await post('/requests', stranger, { accountId: '333333333333', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' });
  expect(byId).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: `No rule lets ${stranger} request profile "ReadOnly" in account 333333333333.` } });
  // Named by no rule as a requester, it learns nothing of what rolegate manages: an account, an alias or a profile that
  // does not exist gets the same 403 as those that do.
  for (const [body, account] of [
    [{ account: 'no-such-alias', profile: 'ReadOnly' }, 'no-such-alias'],
    [{ accountId: '999999999999', profile: 'ReadOnly' }, '999999999999'],
    [{ account: 'production', profile: 'NoSuchProfile' }, 'production'],
    [{ account: 'production', profile: 'readonly' }, 'production'],
  ] as const) {
    const refused = await post('/requests', stranger, { ...body, durationMinutes: 60, reason: 'look' });
    expect(refused).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: `No rule lets ${stranger} request profile "${body.profile}" in account ${account}.` } });
  }
  // A positive control: a requester the rule names is not refused, and is told of an unknown account.
  expect((await post('/requests', ARN.alice, { account: 'no-such-alias', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).status).toBe(404);
  expect((await post('/requests', ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).status).toBe(201);
  expect((await allItems(h)).filter((i) => i.type === 'request')).toHaveLength(1);
});

it('logs who was refused, and at what (the caller, the route and request, API Gateway\'s request id and the address, which the caller cannot choose), not only the correlation id they may pick', async () => {
  const id = await aliceActive();
  const res = await call(h.api, { method: 'POST', path: `/requests/${id}/revoke`, caller: ARN.bob, sourceIp: '198.51.100.9', body: {}, headers: { 'x-correlation-id': 'chosen-by-the-caller' } });
  expect(res.status).toBe(403);
  expect(h.logger.lines.filter((l) => l.message === 'request refused').at(-1)).toEqual({
    level: 'info',
    message: 'request refused',
    fields: {
      code: 'FORBIDDEN',
      status: 403,
      reason: `${ARN.bob} may not see request ${id} (rule "staging-self-service")`,
      correlationId: 'chosen-by-the-caller',
      caller: ARN.bob,
      route: 'POST /requests/{id}/revoke',
      requestId: id,
      apiRequestId: expect.stringMatching(/.+/),
      sourceIp: '198.51.100.9',
    },
  });
});
