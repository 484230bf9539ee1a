import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { reconcile } from '../../../src/domain/use-cases/reconcile';
import { cancelTransactions } from '../../helpers/fault-dynamodb';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * A commit DynamoDB cancels for want of capacity (a TransactionCanceledException
 * whose reasons say ThrottlingError), after IAM was changed: the store sends
 * it again, so the request's state and audit trail still say what was done
 * in IAM. Before, the revoke below left the request ACTIVE with its role
 * deleted, and the provisioning counted an UnexpectedError.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
let h: Harness;
let iam: RecordingProvisioner;

beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ settings: settingsWith((d) => ((d.provisioner as Record<string, unknown>).driftAction = 'repair')), provisioner: iam, identity: new RecordingIdentityGranter() });
});
afterEach(async () => {
  await h.close();
});

/** staging ReadOnly is auto-approved. */
async function approvedStaging() {
  return createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'logs' });
}

it('a revoke whose commit is first cancelled for throttling ends REVOKED, with its events, and its role gone', async () => {
  const request = await approvedStaging();
  await provisionRequest(h.deps, request.id);
  const dynamo = cancelTransactions(h.requests.doc, 1);

  const revoked = await revokeRequest(h.deps, api(ARN.alice), request.id, 'done');

  expect(dynamo).toEqual({ sent: 2, cancelled: 1 });
  expect(revoked.status).toBe('REVOKED');
  const detail = (await h.requests.getDetail(request.id))!;
  expect(detail.request.status).toBe('REVOKED');
  expect(detail.events.map((e) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONED', 'REVOKED', 'ACCESS_REMOVED']);
  expect(iam.roles.size).toBe(0);
});

it('a provisioning whose ACTIVE commit is first cancelled for throttling ends ACTIVE, not failed', async () => {
  const request = await approvedStaging();
  const dynamo = cancelTransactions(h.requests.doc, 1);

  const result = await provisionRequest(h.deps, request.id);

  expect(result.outcome).toBe('active');
  expect(dynamo).toEqual({ sent: 2, cancelled: 1 });
  expect((await h.requests.get(request.id))!.status).toBe('ACTIVE');
  expect(h.metrics.counts.get('GrantActivated')).toBe(1);
  expect(h.metrics.counts.get('ProvisioningFailed')).toBeUndefined();
});

it('a repaired drift whose audit events are first cancelled for throttling is still recorded', async () => {
  const request = await approvedStaging();
  await provisionRequest(h.deps, request.id);
  iam.tampered.set((await h.requests.get(request.id))!.grantKey!, { maxSessionDuration: 43200 });
  const dynamo = cancelTransactions(h.requests.doc, 1);

  const drift = await reconcile(h.deps);

  expect(drift).toEqual([expect.objectContaining({ kind: 'session-duration-changed', repaired: true })]);
  expect(dynamo).toEqual({ sent: 2, cancelled: 1 });
  const events = (await h.requests.getDetail(request.id))!.events.map((e) => e.action);
  expect(events.slice(-2)).toEqual(['DRIFT_DETECTED', 'DRIFT_REPAIRED']);
  expect(h.logger.lines.filter((l) => l.level === 'error')).toEqual([]);
});
