import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { listRequests } from '../../../src/domain/use-cases/listRequests';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { retryRequest } from '../../../src/domain/use-cases/retryRequest';
import { ProvisioningError } from '../../../src/domain/errors';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';

/*
 * `freeze` in the configuration stops new access in an incident without
 * touching the records: nothing by or for a frozen principal, or in a frozen
 * account, is made, extended, approved, retried or provisioned. Denials and
 * revokes go on. A deploy changes the configuration: these tests swap the
 * harness's settings as a deploy would.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });

let h: Harness;
let iam: RecordingProvisioner;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ provisioner: iam });
});
afterEach(async () => {
  await h.close();
});

const freeze = (f: { principals?: string[]; accounts?: string[] }) => {
  h.deps.settings = settingsWith((doc) => (doc.freeze = f));
};

it('a frozen principal gets no new access by any route, and what was approved before fails at provisioning; revokes go on', async () => {
  const live = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  await provisionRequest(h.deps, live.id);
  const pending = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'more' });
  const approved = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 60, reason: 'approved before the freeze' });
  iam.failNext = [new ProvisioningError('IAM refused (AccessDenied)', 'AccessDenied', false)];
  const failed = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 30, reason: 'will fail' });
  await provisionRequest(h.deps, failed.id);
  expect((await h.requests.get(failed.id))!.status).toBe('FAILED');
  const before = await allItems(h);

  freeze({ principals: [ARN.alice] });
  const frozen = `New access for ${ARN.alice} is frozen by the configuration (freeze.principals): nothing is granted until it is lifted.`;

  await expect(createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'again' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: frozen });
  await expect(extendRequest(h.deps, api(ARN.alice), live.id, { durationMinutes: 60, reason: 'longer' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: frozen });
  await expect(decideRequest(h.deps, api(ARN.leadAnna), { requestId: pending.id, decision: 'APPROVE' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: frozen });
  await expect(retryRequest(h.deps, api(ARN.alice), failed.id)).rejects.toMatchObject({ code: 'FORBIDDEN', message: frozen });
  // Nothing changed: no new request, and none of the requests refused (their items, decisions and events) moved.
  expect(await allItems(h)).toEqual(before);

  const provisioned = await provisionRequest(h.deps, approved.id);
  expect(provisioned.outcome).toBe('failed');
  expect(provisioned.request!.failure).toMatchObject({ code: 'ConfigurationChanged', retryable: false, message: frozen });

  // What stops access goes on: a deny, and a responder's revoke.
  expect((await decideRequest(h.deps, api(ARN.leadAnna), { requestId: pending.id, decision: 'DENY', comment: 'incident' })).status).toBe('DENIED');
  expect((await revokeRequest(h.deps, api(ARN.responder), live.id, 'incident')).status).toBe('REVOKED');
  // Others are not frozen.
  expect((await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'unrelated' })).status).toBe('APPROVED');
});

it('freezes a principal named in another case: IAM names are one user or role whatever their case, and a freeze errs on stopping more', async () => {
  freeze({ principals: [ARN.alice.replace('user/alice', 'user/ALICE')] });
  const before = await allItems(h);
  await expect(createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'again' })).rejects.toMatchObject({
    code: 'FORBIDDEN',
    message: `New access for ${ARN.alice} is frozen by the configuration (freeze.principals): nothing is granted until it is lifted.`,
  });
  expect(await allItems(h)).toEqual(before);
});

describe('a frozen approver (its credentials may be someone else\'s)', () => {
  const frozenApprover = (arn: string) => `${arn} is frozen by the configuration (freeze.principals): it approves nothing until the freeze is lifted (it may still deny, cancel and revoke).`;
  const productionRead = (reason: string) => createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason });

  it('approves nothing and retries nothing, and writes nothing; a deny by it still ends a request', async () => {
    const pending = await productionRead('pending');
    const failing = await productionRead('will fail');
    await decideRequest(h.deps, api(ARN.leadBen), { requestId: failing.id, decision: 'APPROVE' });
    iam.failNext = [new ProvisioningError('IAM refused (AccessDenied)', 'AccessDenied', false)];
    await provisionRequest(h.deps, failing.id);
    expect((await h.requests.get(failing.id))!.status).toBe('FAILED');
    freeze({ principals: ['arn:aws:iam::111111111111:user/lead-*'] });
    const before = await allItems(h);

    await expect(decideRequest(h.deps, api(ARN.leadAnna), { requestId: pending.id, decision: 'APPROVE' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: frozenApprover(ARN.leadAnna) });
    await expect(retryRequest(h.deps, api(ARN.leadBen), failing.id)).rejects.toMatchObject({ code: 'FORBIDDEN', message: frozenApprover(ARN.leadBen) });
    expect(await allItems(h)).toEqual(before);

    expect((await decideRequest(h.deps, api(ARN.leadAnna), { requestId: pending.id, decision: 'DENY', comment: 'incident' })).status).toBe('DENIED');
    // No longer pending: said first (409), before what the configuration lets stand.
    await expect(decideRequest(h.deps, api(ARN.leadAnna), { requestId: pending.id, decision: 'APPROVE' })).rejects.toMatchObject({ code: 'CONFLICT', message: `Request ${pending.id} is no longer pending: it is DENIED.` });
  });

  it('is offered nothing in view=awaiting while frozen; lifted, the request is offered again', async () => {
    const pending = await productionRead('pending');
    const awaiting = async (arn: string) => (await listRequests(h.deps, api(arn), { view: 'awaiting', limit: 10 })).items.map((r) => r.id);
    freeze({ principals: [ARN.leadAnna] });

    expect(await awaiting(ARN.leadAnna)).toEqual([]);
    expect(await awaiting(ARN.leadBen)).toEqual([pending.id]);
    freeze({});
    expect(await awaiting(ARN.leadAnna)).toEqual([pending.id]);
  });

  it('its earlier approval stops counting toward a quorum, and one it completed is not provisioned; a retry counts without it', async () => {
    const admin = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'patch' });
    expect((await decideRequest(h.deps, api(ARN.leadAnna), { requestId: admin.id, decision: 'APPROVE' })).approvals).toEqual([ARN.leadAnna]);
    const read = await productionRead('approved by anna alone');
    expect((await decideRequest(h.deps, api(ARN.leadAnna), { requestId: read.id, decision: 'APPROVE' })).status).toBe('APPROVED');
    freeze({ principals: [ARN.leadAnna] });

    // Two are needed: Sam's approval is the only one that counts now.
    expect(await decideRequest(h.deps, api(ARN.sreSam), { requestId: admin.id, decision: 'APPROVE' })).toMatchObject({ status: 'PENDING', approvals: [ARN.sreSam] });

    const provisioned = await provisionRequest(h.deps, read.id);
    expect(provisioned.outcome).toBe('failed');
    expect(provisioned.request!.failure).toMatchObject({
      code: 'ConfigurationChanged',
      retryable: false,
      message: `Request ${read.id} was approved by ${ARN.leadAnna}, frozen since by the configuration (freeze.principals): nothing was granted. A retry counts its approvals without the frozen one; or make a new request.`,
    });
    expect(iam.log.filter((l) => l.startsWith('apply'))).toEqual([]);
    await expect(retryRequest(h.deps, api(ARN.leadBen), read.id)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('now needs 1 approval(s) from its current approvers') });

    // Lifted, Anna's approval counts again and the request can be retried.
    freeze({});
    expect((await retryRequest(h.deps, api(ARN.leadBen), read.id)).status).toBe('APPROVED');
  });
});

it('a frozen account takes no new access from anyone, and a grantee of a workload request is frozen as its requester is', async () => {
  freeze({ accounts: ['production'] });
  await expect(createRequest(h.deps, api(ARN.bob), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' })).rejects.toMatchObject({
    code: 'FORBIDDEN',
    message: 'New access to account production (333333333333) is frozen by the configuration (freeze.accounts): nothing is granted until it is lifted.',
  });
  expect((await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'x' })).status).toBe('APPROVED');

  freeze({ principals: [ARN.appRole] });
  await expect(
    createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x', principalArn: ARN.appRole }),
  ).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining(`New access for ${ARN.appRole} is frozen`) });
});

it('refuses a freeze that names no configured account: a typo would freeze nothing', () => {
  expect(() => settingsWith((doc) => (doc.freeze = { accounts: ['prodution'] }))).toThrow(/freeze\.accounts\.0: unknown account "prodution"/);
});
