import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { grantLocationFor } from '../../../src/domain/grants';
import type { AccessRequest } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { call } from '../../helpers/events';
import { isIamWrite, routeAwsMocks } from '../../helpers/fault-iam';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * A role of the grant's name that rolegate did not make (someone created it
 * by hand) stops provisioning at once: rolegate never takes over, nor
 * deletes, a role it did not create. The request must still end: FAILED
 * with the reason, or EXPIRED when its end passed first, with the foreign
 * role left exactly as it was and nothing of rolegate's left behind. Real
 * IamProvisioner and identity granter against the in-memory IAM, on
 * DynamoDB Local.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
const STAGING = '222222222222';
const MINUTE = 60_000;
const aws = settingsWith((doc: Record<string, any>) => {
  doc.provisioner.mode = 'aws';
  doc.provisioner.identityRoleArn = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
  doc.provisioner.identityExternalId = 'rolegate-identity-5b1e';
});

let w: FaultWorld;
beforeEach(() => routeAwsMocks(iamMock, stsMock));
afterEach(async () => {
  await w?.close();
});

/** An auto-approved staging request for alice whose role name someone already took, by hand, at rolegate's path. */
async function approvedOverForeignRole(durationMinutes = 60): Promise<{ r: AccessRequest; roleName: string }> {
  w = await faultWorld(aws);
  const r = await createRequest(w.h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes, reason: 'read the logs' });
  expect(r.status).toBe('APPROVED');
  const { roleName } = grantLocationFor(w.h.deps.settings, r);
  w.aws.seedRole(STAGING, roleName, '/rolegate/');
  return { r, roleName };
}

it('ends the request FAILED with RoleNotManaged at the first attempt, leaving the foreign role as it was and nothing of its own', async () => {
  const { r, roleName } = await approvedOverForeignRole();
  const foreign = w.aws.role(STAGING, roleName);

  const writes = (await w.schedule.record(() => provisionRequest(w.h.deps, r.id))).filter((c) => c.service === 'iam' && isIamWrite(c.command));

  const detail = (await w.h.requests.getDetail(r.id))!;
  expect(detail.request).toMatchObject({ status: 'FAILED', provisioningAttempts: 1, failure: { code: 'RoleNotManaged', retryable: false } });
  expect(detail.request.failure!.message).toContain('is not managed by rolegate; rolegate never takes over a role it did not create');
  expect(detail.events.find((e) => e.action === 'PROVISIONING_FAILED')!.data).toMatchObject({ awsCode: 'RoleNotManaged', cleanup: 'done' });
  // Nothing was written to the foreign role; the only IAM write takes back the identity policy (which was never put).
  expect(w.aws.role(STAGING, roleName)).toEqual(foreign);
  expect(writes.filter((c) => c.command !== 'DeleteUserPolicy')).toEqual([]);
  expect(Object.keys(w.aws.dump().userPolicies)).toEqual([]);
  expect(w.h.metrics.counts.get('ProvisioningFailed')).toBe(1);

  // Off the due index: the sweeper does not drive it again.
  w.h.clock.advance(5 * MINUTE);
  expect(await sweep(w.h.deps)).toMatchObject({ provisioned: 0, failed: 0, errors: [] });
  expect((await w.h.requests.get(r.id))!.version).toBe(detail.request.version);
});

it('lets such a request be revoked before provisioning ran, leaving the foreign role alone', async () => {
  const { r, roleName } = await approvedOverForeignRole();
  const foreign = w.aws.role(STAGING, roleName);

  const res = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} });

  expect(res.status).toBe(200);
  expect(res.body.request.status).toBe('REVOKED');
  expect(w.aws.role(STAGING, roleName)).toEqual(foreign);
});

it('expires a request whose end passed before provisioning, leaving the foreign role alone', async () => {
  const { r, roleName } = await approvedOverForeignRole(30);
  const foreign = w.aws.role(STAGING, roleName);
  w.h.clock.advance(31 * MINUTE);

  const result = await provisionRequest(w.h.deps, r.id);

  expect(result.outcome).toBe('expired');
  expect((await w.h.requests.getDetail(r.id))!.events.map((e) => e.action).slice(-2)).toEqual(['EXPIRED', 'ACCESS_REMOVED']);
  expect(w.aws.role(STAGING, roleName)).toEqual(foreign);
});

it('still refuses to delete a role of that name once a grant records it as rolegate\'s, whose managed-by tag someone removed', async () => {
  w = await faultWorld(aws);
  const r = await createRequest(w.h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
  expect((await provisionRequest(w.h.deps, r.id)).outcome).toBe('active');
  const { roleName } = grantLocationFor(w.h.deps.settings, r);
  w.aws.tamper(STAGING, roleName, (role) => {
    role.tags = {};
  });

  const res = await call(w.h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} });

  // The role still trusts alice: ending the request as if nothing were left would hide live access.
  expect(res.status).toBe(502);
  expect(res.body.message).toContain('is not managed by rolegate');
  expect((await w.h.requests.get(r.id))!.status).toBe('ACTIVE');
  expect(w.aws.role(STAGING, roleName)).toBeDefined();
});
