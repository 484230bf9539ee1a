import { ProvisioningError } from '../../../src/domain/errors';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN } from '../../helpers/settings';

/*
 * Incident responders (`responders` in the configuration) see every request
 * and may revoke any: without them, access auto-approved under a rule with no
 * approvers is within reach of its requester alone, the very principal an
 * incident may be about. They never approve, deny or retry, so they cannot
 * give anyone access. On DynamoDB Local, through the HTTP API.
 */

const RESPONDER = ARN.responder;
const RESPONDER_SESSION = 'arn:aws:sts::111111111111:assumed-role/security-oncall/jo';

let h: Harness;
let iam: RecordingProvisioner;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ provisioner: iam });
});
afterEach(async () => {
  await h.close();
});

const post = (path: string, caller: string, body: unknown = {}) => call(h.api, { method: 'POST', path, caller, body });

it('see and revoke access auto-approved under a rule with no approvers, which no approver can reach', async () => {
  const created = await post('/requests', ARN.alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'routine' });
  const id = created.body.request.id as string;
  expect((await provisionRequest(h.deps, id)).outcome).toBe('active');

  // No approver of any rule reaches it (the staging rule names none).
  expect((await call(h.api, { method: 'GET', path: `/requests/${id}`, caller: ARN.leadAnna })).status).toBe(403);
  expect((await post(`/requests/${id}/revoke`, ARN.leadAnna)).status).toBe(403);

  const seen = await call(h.api, { method: 'GET', path: `/requests/${id}`, caller: RESPONDER_SESSION });
  expect(seen).toMatchObject({ status: 200, body: { request: { id, status: 'ACTIVE', requester: ARN.alice } } });
  const listed = await call(h.api, { method: 'GET', path: '/requests', caller: RESPONDER_SESSION, query: { view: 'all', status: 'ACTIVE' } });
  expect(listed.body.items.map((r: { id: string }) => r.id)).toEqual([id]);

  const revoked = await post(`/requests/${id}/revoke`, RESPONDER_SESSION, { comment: 'laptop compromised' });
  expect(revoked).toMatchObject({ status: 200, body: { request: { id, status: 'REVOKED' } } });
  const events = (await h.requests.getDetail(id))!.events;
  expect(events.find((e) => e.action === 'REVOKED')).toMatchObject({ actor: RESPONDER, comment: 'laptop compromised' });
});

it('never approve, deny or retry: they cannot give anyone access', async () => {
  const pending = (await post('/requests', ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).body.request.id as string;

  expect((await post(`/requests/${pending}/approve`, RESPONDER))).toMatchObject({ status: 403, body: { message: `${RESPONDER} is not an approver under rule "production-read".` } });
  expect((await post(`/requests/${pending}/deny`, RESPONDER, { comment: 'no' })).status).toBe(403);
  expect((await h.requests.get(pending))!.status).toBe('PENDING');
  // A positive control: the rule's approver may.
  expect((await post(`/requests/${pending}/approve`, ARN.leadAnna)).status).toBe(200);

  const failed = (await post('/requests', ARN.alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).body.request.id as string;
  iam.failNext = [new ProvisioningError('IAM refused the role (AccessDenied)', 'AccessDenied', false)];
  expect((await provisionRequest(h.deps, failed)).outcome).toBe('failed');
  expect((await post(`/requests/${failed}/retry`, RESPONDER)).status).toBe(403);
  expect((await h.requests.get(failed))!.status).toBe('FAILED');
  expect((await post(`/requests/${failed}/retry`, ARN.alice)).status).toBe(200);
});
