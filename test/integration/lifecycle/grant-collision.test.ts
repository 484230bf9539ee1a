import { grantLocationFor } from '../../../src/domain/grants';
import type { AccessRequest } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

/*
 * Two grants can meet on one grant key: a role name is the readable
 * principal and profile cut short plus a hash, and a principal can be named
 * to collide. The second request must never join the first's grant: that
 * would rewrite the first's role to trust its own principal, and leaving,
 * rewrite it for the first's requests with its own principal.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });

let h: Harness;
let iam: RecordingProvisioner;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ provisioner: iam, identity: new RecordingIdentityGranter() });
});
afterEach(async () => {
  await h.close();
});

/** Bob's live grant, stored (and in IAM) under the key alice's request derives, as a hash collision would leave it. */
async function collidingGrants(): Promise<{ bob: AccessRequest; alice: AccessRequest; aliceKey: string }> {
  const bob = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 240, reason: 'on call' });
  await provisionRequest(h.deps, bob.id);
  const alice = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 15, reason: 'look' });
  const { grantKey: aliceKey, roleName } = grantLocationFor(h.deps.settings, alice);
  const bobs = (await h.grants.get((await h.requests.get(bob.id))!.grantKey!))!;
  const lease = (await h.grants.acquire(aliceKey, 'test', '2026-03-02T10:00:00.000Z', '2026-03-02T09:00:00.000Z'))!;
  await h.grants.save(lease, { ...bobs, grantKey: aliceKey, roleName, version: 1 });
  await h.grants.release(lease);
  const spec = iam.roles.get(bobs.grantKey)!;
  iam.roles.set(aliceKey, { ...spec, grantKey: aliceKey, roleName });
  return { bob: (await h.requests.get(bob.id))!, alice, aliceKey };
}

it('fails a request whose grant key holds another principal\'s grant, changing neither that grant nor its role', async () => {
  const { alice, aliceKey } = await collidingGrants();
  const grantBefore = await h.grants.get(aliceKey);
  const roleBefore = iam.roles.get(aliceKey);
  const sent = iam.log.length;

  const result = await provisionRequest(h.deps, alice.id);

  expect(result.outcome).toBe('failed');
  expect(await h.requests.get(alice.id)).toMatchObject({ status: 'FAILED', failure: { code: 'GrantConflict', retryable: false } });
  expect(result.request!.failure!.message).toMatch(/belongs to another grant \(its principal differs from this request's\)/);
  expect(iam.log.length).toBe(sent);
  expect(iam.roles.get(aliceKey)).toEqual(roleBefore);
  expect(await h.grants.get(aliceKey)).toEqual(grantBefore);
  // Nothing of the other grant's requests is told to this one's requester.
  const failed = (await h.requests.getDetail(alice.id))!.events.at(-1)!;
  expect(failed).toMatchObject({ action: 'PROVISIONING_FAILED', data: { stillCoveredBy: [], roleDeleted: false, calls: [] } });
});

it('ends such a request (revoke, or its end passing) without touching the other grant', async () => {
  const { alice, aliceKey } = await collidingGrants();
  await provisionRequest(h.deps, alice.id);
  const grantBefore = await h.grants.get(aliceKey);
  const roleBefore = iam.roles.get(aliceKey);
  const sent = iam.log.length;

  expect((await revokeRequest(h.deps, api(ARN.alice), alice.id, 'never mind')).status).toBe('REVOKED');

  expect(iam.log.length).toBe(sent);
  expect(iam.roles.get(aliceKey)).toEqual(roleBefore);
  expect(await h.grants.get(aliceKey)).toEqual(grantBefore);
});

it('an approved request whose end passed before provisioning expires without touching the other grant', async () => {
  const { alice, aliceKey } = await collidingGrants();
  const roleBefore = iam.roles.get(aliceKey);
  h.clock.advance(20 * 60_000);

  await sweep(h.deps);

  expect((await h.requests.get(alice.id))!.status).toBe('EXPIRED');
  expect(iam.roles.get(aliceKey)).toEqual(roleBefore);
  expect((await h.grants.get(aliceKey))!.principalArn).toBe(ARN.bob);
});
