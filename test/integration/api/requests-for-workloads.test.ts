import { ProvisioningError } from '../../../src/domain/errors';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';

/*
 * A request made for a workload (principalArn: a role the rule's
 * workloadPrincipals name) has two principals: the person who asked and the
 * workload it is for. Each keeps the rights of their part and no more: both
 * see it; the person who asked never decides on it, and a freeze of that
 * person stops it; the workload may not send it back to provisioning. Found
 * by mutation testing: the tests covered each right for a request made for
 * oneself, where the two are the same principal. On DynamoDB Local, through
 * the HTTP API.
 */

let h: Harness;
let iam: RecordingProvisioner;
const withRules = (patch: (doc: Record<string, any>) => void) =>
  settingsWith((doc: Record<string, any>) => {
    const staging = doc.rules.find((r: { id: string }) => r.id === 'staging-self-service');
    // Workloads may be granted staging access too, and the leads may approve a retry there, as they may a request elsewhere.
    staging.workloadPrincipals = ['arn:aws:iam::111111111111:role/app-*'];
    staging.approvers = ['arn:aws:iam::111111111111:user/lead-*'];
    patch(doc);
  });
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ provisioner: iam, settings: withRules(() => undefined) });
});
afterEach(async () => {
  await h.close();
});

const post = (path: string, caller: string, body: unknown = {}) => call(h.api, { method: 'POST', path, caller, body });
const get = (id: string, caller: string) => call(h.api, { method: 'GET', path: `/requests/${id}`, caller });
const forBilling = (account: string) => ({ account, profile: 'ReadOnly', durationMinutes: 60, reason: 'nightly billing run', principalArn: ARN.appRole });

it('lets the person who asked for a workload neither approve nor deny it; a lead then may', async () => {
  const created = await post('/requests', ARN.leadAnna, forBilling('production'));
  expect(created).toMatchObject({ status: 201, body: { request: { requester: ARN.leadAnna, principalArn: ARN.appRole, status: 'PENDING' } } });
  const id = created.body.request.id as string;
  const before = await allItems(h);

  for (const decision of ['approve', 'deny']) {
    expect(await post(`/requests/${id}/${decision}`, ARN.leadAnna, { comment: 'fine' })).toMatchObject({ status: 403, body: { message: 'Nobody may decide on their own request.' } });
  }
  expect(await allItems(h)).toEqual(before);
  expect(await post(`/requests/${id}/approve`, ARN.leadBen)).toMatchObject({ status: 200, body: { request: { status: 'APPROVED' } } });
});

it('shows it to the person who asked and to the workload, not to another user', async () => {
  const id = (await post('/requests', ARN.alice, forBilling('production'))).body.request.id as string;
  expect(await get(id, ARN.alice)).toMatchObject({ status: 200, body: { request: { id } } });
  expect(await get(id, ARN.appRole)).toMatchObject({ status: 200, body: { request: { id } } });
  // The same user moved to another path since: one IAM identity, as IAM compares them.
  expect((await get(id, 'arn:aws:iam::111111111111:user/team/alice')).status).toBe(200);
  expect((await get(id, ARN.bob)).status).toBe(403);
});

it('refuses a frozen person asking for a workload, as it refuses them asking for themselves', async () => {
  h.deps.settings = withRules((doc) => (doc.freeze = { principals: [ARN.alice] }));
  const refused = await post('/requests', ARN.alice, forBilling('production'));
  expect(refused).toMatchObject({ status: 403, body: { message: `New access for ${ARN.alice} is frozen by the configuration (freeze.principals): nothing is granted until it is lifted.` } });
  expect(await allItems(h)).toEqual([]);
  // Positive control: another user asks for the same workload.
  expect((await post('/requests', ARN.bob, forBilling('production'))).status).toBe(201);
});

it('lets the person who asked, or an approver, send a failed workload grant back to provisioning under a rule that approves by itself; never the workload', async () => {
  const failed = async () => {
    const id = (await post('/requests', ARN.alice, forBilling('staging'))).body.request.id as string;
    iam.failNext = [new ProvisioningError('IAM refused the role (AccessDenied)', 'AccessDenied', false)];
    expect((await provisionRequest(h.deps, id)).outcome).toBe('failed');
    return id;
  };
  const id = await failed();
  const before = await allItems(h);
  expect(await post(`/requests/${id}/retry`, ARN.appRole)).toMatchObject({
    status: 403,
    body: { message: `Only the requester or an approver under rule "staging-self-service" may retry request ${id}.` },
  });
  expect(await allItems(h)).toEqual(before);
  expect(await post(`/requests/${id}/retry`, ARN.alice)).toMatchObject({ status: 200, body: { request: { status: 'APPROVED' } } });

  const another = await failed();
  expect(await post(`/requests/${another}/retry`, ARN.leadAnna)).toMatchObject({ status: 200, body: { request: { status: 'APPROVED' } } });
});

it('takes a principalArn naming the caller under another path as the caller: the access is for them, as IAM would take them', async () => {
  const created = await post('/requests', ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read', principalArn: 'arn:aws:iam::111111111111:user/team/alice' });
  expect(created).toMatchObject({ status: 201, body: { request: { requester: ARN.alice, principalArn: ARN.alice } } });
});
