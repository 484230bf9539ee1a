import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';

/*
 * Rights follow the configuration as it is now, and principals are compared
 * as IAM compares them: an approver taken off a rule loses sight of its
 * requests; one user moved to another path is still one approver; a
 * responder or a requester pattern matches an ARN's case exactly. Found by
 * mutation testing. On DynamoDB Local, through the HTTP API.
 */

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const post = (path: string, caller: string, body: unknown = {}) => call(h.api, { method: 'POST', path, caller, body });
const get = (id: string, caller: string) => call(h.api, { method: 'GET', path: `/requests/${id}`, caller });
const rule = (doc: Record<string, any>, id: string) => doc.rules.find((r: { id: string }) => r.id === id);

it('takes sight and revocation of a request from an approver the rule no longer names, while the rule stays', async () => {
  const id = (await post('/requests', ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read' })).body.request.id as string;
  expect((await post(`/requests/${id}/approve`, ARN.leadAnna)).status).toBe(200);
  expect((await provisionRequest(h.deps, id)).outcome).toBe('active');

  h.deps.settings = settingsWith((doc) => void (rule(doc, 'production-read').approvers = [ARN.leadBen]));
  const before = await allItems(h);
  expect((await get(id, ARN.leadAnna)).status).toBe(403);
  expect((await post(`/requests/${id}/revoke`, ARN.leadAnna, { comment: 'done' })).status).toBe(403);
  expect(await allItems(h)).toEqual(before);
  // Positive control: the approver it names now.
  expect((await get(id, ARN.leadBen)).status).toBe(200);
});

it('counts one user once toward a two-person rule, under whichever path their ARN shows', async () => {
  h.deps.settings = settingsWith((doc) => void (rule(doc, 'admin-two-approvals').approvers = ['arn:aws:iam::111111111111:user/*lead-*']));
  const id = (await post('/requests', ARN.alice, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'resize' })).body.request.id as string;
  expect(await post(`/requests/${id}/approve`, ARN.leadAnna)).toMatchObject({ status: 200, body: { request: { status: 'PENDING', approvals: [ARN.leadAnna] } } });

  const moved = 'arn:aws:iam::111111111111:user/team/lead-anna';
  const before = await allItems(h);
  expect(await post(`/requests/${id}/approve`, moved)).toMatchObject({ status: 409, body: { message: `${moved} has already approved request ${id}.` } });
  expect(await allItems(h)).toEqual(before);
  expect(await post(`/requests/${id}/approve`, ARN.leadBen)).toMatchObject({ status: 200, body: { request: { status: 'APPROVED' } } });
});

it('matches a responder as IAM matches ARNs, case-sensitively: a role named in another case is no responder', async () => {
  const id = (await post('/requests', ARN.alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read' })).body.request.id as string;
  expect((await get(id, 'arn:aws:iam::111111111111:role/Security-Oncall')).status).toBe(403);
  expect((await get(id, ARN.responder)).status).toBe(200);
});

it('refuses a caller that a requester pattern names only in another case as it refuses one no rule names: one 403, whatever the account', async () => {
  h.deps.settings = settingsWith((doc) => {
    (doc.rules as unknown[]).push({ id: 'ci', requesters: ['arn:aws:iam::111111111111:role/CI-*'], accounts: ['staging'], profiles: ['ReadOnly'], maxDurationMinutes: 60, autoApprove: true });
  });
  const ask = (account: string) => post('/requests', ARN.otherRole, { account, profile: 'ReadOnly', durationMinutes: 30, reason: 'deploy' });
  for (const account of ['nowhere', 'staging', 'production']) {
    expect(await ask(account)).toMatchObject({ status: 403, body: { message: `No rule lets ${ARN.otherRole} request profile "ReadOnly" in account ${account}.` } });
  }
  expect(await allItems(h)).toEqual([]);
});
