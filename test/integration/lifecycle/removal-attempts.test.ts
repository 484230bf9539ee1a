import { DynamoGrantStore } from '../../../src/adapters/dynamodb/grant-store';
import { ProvisioningError, StaleWriteError } from '../../../src/domain/errors';
import type { AccessRequest } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { MAX_AUDITED_SWEEP_ATTEMPTS, revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

/*
 * An attempt to end access that fails after it has written to IAM leaves
 * what it wrote on the request's audit trail (ACCESS_REMOVAL_ATTEMPT_FAILED),
 * as a failed provisioning attempt does: the trail then holds every IAM
 * change rolegate made, not only those of the attempt that succeeded. Real
 * DynamoDB, recorded IAM.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
const UNEXPECTED = "an unexpected error (the log of the rolegate function that ran it holds it, under this request's id)";

let h: Harness;
let iam: RecordingProvisioner;
let identity: RecordingIdentityGranter;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  identity = new RecordingIdentityGranter();
  h = await harness({ provisioner: iam, identity });
});
afterEach(() => h.close());

/** Every removal of a grant item fails with a new `error()` (after the IAM writes before it), in this test's deps; returns what restores the store. */
function failGrantRemoval(error: () => Error): () => void {
  const grants = h.deps.grants;
  const failing = Object.create(grants as DynamoGrantStore) as DynamoGrantStore;
  failing.remove = async () => {
    throw error();
  };
  h.deps.grants = failing;
  return () => (h.deps.grants = grants);
}

/** Staging ReadOnly is auto-approved: ACTIVE with its role and identity-side policy. */
async function active(minutes = 60): Promise<AccessRequest> {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: minutes, reason: 'work' });
  expect((await provisionRequest(h.deps, request.id)).outcome).toBe('active');
  return (await h.requests.get(request.id))!;
}

const trail = async (id: string) => (await h.requests.getDetail(id))!.events;

it('audits the role deleted by a revoke whose identity-side step then failed, and the revoke that finished it', async () => {
  const request = await active();
  identity.failNext.push(new ProvisioningError('DeleteUserPolicy in the identity account was throttled.', 'Throttling', true));
  const notified = h.notifier.sent.length;

  await expect(revokeRequest(h.deps, api(ARN.alice), request.id, 'done')).rejects.toThrow('DeleteUserPolicy in the identity account was throttled.');

  // The role is gone, the request still ACTIVE; the trail says what was written and why it stopped.
  expect(iam.roles.size).toBe(0);
  expect((await h.requests.get(request.id))!).toMatchObject({ status: 'ACTIVE', version: request.version });
  const attempt = (await trail(request.id)).at(-1)!;
  expect(attempt).toMatchObject({
    action: 'ACCESS_REMOVAL_ATTEMPT_FAILED',
    actor: 'rolegate',
    comment: 'DeleteUserPolicy in the identity account was throttled.',
    data: { awsCode: 'Throttling', writesBeforeError: ['DeleteRole'] },
  });
  expect(attempt).not.toHaveProperty('from');
  expect(attempt).not.toHaveProperty('to');
  expect(attempt).not.toHaveProperty('notify');
  expect(h.notifier.sent).toHaveLength(notified);

  const revoked = await revokeRequest(h.deps, api(ARN.alice), request.id, 'done');

  expect(revoked.status).toBe('REVOKED');
  expect(identity.policies.size).toBe(0);
  const events = await trail(request.id);
  expect(events.map((e) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONED', 'ACCESS_REMOVAL_ATTEMPT_FAILED', 'REVOKED', 'ACCESS_REMOVED']);
  // The second attempt lists what it sent: the recording provisioner answers a delete of a role already gone as
  // sent again (the real one's answer is in the fault matrix), and the identity policy.
  expect(events.at(-1)!.data).toMatchObject({ roleDeleted: true, calls: ['DeleteRole', 'DeleteUserPolicy'] });
});

it("audits an expiry's IAM writes when the grant item could not be removed after them, in rolegate's words only", async () => {
  const request = await active(60);
  const restore = failGrantRemoval(() => Object.assign(new Error('socket hang up at arn:aws:dynamodb:eu-west-1:999999999999:table/rolegate'), { name: 'TimeoutError' }));
  h.clock.advance(61 * 60_000);

  const report = await sweep(h.deps);

  expect(report.expired).toBe(0);
  expect((await h.requests.get(request.id))!.status).toBe('ACTIVE');
  const attempt = (await trail(request.id)).at(-1)!;
  // No AWS code (not a ProvisioningError), and no SDK text: that names the table and stays in the log.
  expect(attempt).toStrictEqual({
    id: attempt.id,
    requestId: request.id,
    at: h.clock.now().toISOString(),
    actor: 'rolegate',
    action: 'ACCESS_REMOVAL_ATTEMPT_FAILED',
    comment: UNEXPECTED,
    data: { writesBeforeError: ['DeleteRole', 'DeleteUserPolicy'] },
  });

  restore();
  h.clock.advance(60 * 60_000);
  expect((await sweep(h.deps)).expired).toBe(1);
  const events = await trail(request.id);
  expect(events.map((e) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONED', 'ACCESS_REMOVAL_ATTEMPT_FAILED', 'EXPIRED', 'ACCESS_REMOVED']);
});

it('audits nothing for an attempt that failed before writing to IAM', async () => {
  const request = await active();
  iam.failNext.push(new ProvisioningError('DeleteRole in account 222222222222 was refused (AccessDenied).', 'AccessDenied', false));

  await expect(revokeRequest(h.deps, api(ARN.alice), request.id, 'done')).rejects.toThrow('was refused (AccessDenied)');

  expect((await trail(request.id)).map((e) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONED']);
  expect(iam.roles.size).toBe(1);
});

it('says so when the request changed before the end was recorded, and the retry that finished it follows', async () => {
  const request = await active();
  const commit = h.requests.commit.bind(h.requests);
  let refused = false;
  h.requests.commit = async (write) => {
    if (write.request.status === 'REVOKED' && !refused) {
      refused = true;
      throw new StaleWriteError('changed');
    }
    return commit(write);
  };

  await revokeRequest(h.deps, api(ARN.alice), request.id, 'done');

  const events = await trail(request.id);
  expect(events.map((e) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONED', 'ACCESS_REMOVAL_ATTEMPT_FAILED', 'REVOKED', 'ACCESS_REMOVED']);
  expect(events[3]).toMatchObject({
    comment: 'the request changed before its end was recorded; it is decided again on the request as stored',
    data: { writesBeforeError: ['DeleteRole', 'DeleteUserPolicy'] },
  });
  expect(events[3]!.data).not.toHaveProperty('commitUnanswered');
});

it(`audits the sweeper's first ${MAX_AUDITED_SWEEP_ATTEMPTS} failed expiries that wrote to IAM, and logs the later ones only`, async () => {
  const request = await active(60);
  failGrantRemoval(() => new ProvisioningError('The lease on the grant was lost.', 'LeaseLost', true));
  h.clock.advance(61 * 60_000);

  // Each sweep finds the request due again once its backoff has passed.
  for (let i = 0; i < MAX_AUDITED_SWEEP_ATTEMPTS + 2; i++) {
    expect((await sweep(h.deps)).errors).toHaveLength(1);
    h.clock.advance(16 * 60_000);
  }

  const attempts = (await trail(request.id)).filter((e) => e.action === 'ACCESS_REMOVAL_ATTEMPT_FAILED');
  expect(attempts).toHaveLength(MAX_AUDITED_SWEEP_ATTEMPTS);
  expect((await h.requests.get(request.id))!.sweepRetry).toMatchObject({ kind: 'EXPIRE', attempts: MAX_AUDITED_SWEEP_ATTEMPTS + 2 });
  const logged = h.logger.lines.filter((l) => l.message.startsWith('an expiry failed again after writing to IAM'));
  expect(logged).toHaveLength(2);
  expect(logged[0]!.fields).toMatchObject({ requestId: request.id, attempts: MAX_AUDITED_SWEEP_ATTEMPTS + 1, writesBeforeError: ['DeleteRole', 'DeleteUserPolicy'] });
});

it("lists, on a failed provisioning's attempt, what its failed undo had written", async () => {
  const request = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  iam.failNext.push(new ProvisioningError('PutRolePolicy in account 222222222222 was refused (AccessDenied).', 'AccessDenied', false));
  identity.failNext.push(new ProvisioningError('DeleteUserPolicy in the identity account was throttled.', 'Throttling', true));

  expect((await provisionRequest(h.deps, request.id)).outcome).toBe('retry-later');

  expect((await trail(request.id)).at(-1)).toMatchObject({
    action: 'PROVISIONING_ATTEMPT_FAILED',
    data: { awsCode: 'AccessDenied', undo: 'failed', undoWritesBeforeError: ['DeleteRole'] },
  });
});
