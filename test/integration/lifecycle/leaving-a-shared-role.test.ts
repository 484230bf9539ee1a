import { ProvisioningError } from '../../../src/domain/errors';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { harness, type Harness } from '../../helpers/harness';
import { intercept } from '../../helpers/intercept';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

/*
 * A request leaving a role it shares must leave IAM ending no later than the
 * requests still on it, and must not be held up by a rewrite that would not
 * move that end. (Found by a review of the lifecycle over time; each case
 * failed before the fix.) On DynamoDB Local; the clock starts at 09:00.
 */

const alice = { arn: ARN.alice, via: 'api' as const };
const at = (hms: string) => `2026-03-02T${hms}.000Z`;
const denied = () => new ProvisioningError('IAM refused: AccessDenied', 'AccessDenied', false);
let h: Harness;
let iam: RecordingProvisioner;
let identity: RecordingIdentityGranter;

beforeEach(async () => {
  iam = new RecordingProvisioner();
  identity = new RecordingIdentityGranter();
  h = await harness({ provisioner: iam, identity });
});
afterEach(async () => {
  await h.close();
});

/** staging ReadOnly is auto-approved. */
async function active(minutes: number) {
  const r = await createRequest(h.deps, alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: minutes, reason: 'work' });
  await provisionRequest(h.deps, r.id);
  return (await h.requests.get(r.id))!;
}

it("narrows the role to the original's end as a revoke takes its extension off, so a failed removal leaves no revoked time in IAM", async () => {
  const original = await active(60);
  h.clock.advance(30 * 60_000);
  const extension = await extendRequest(h.deps, alice, original.id, { durationMinutes: 60, reason: 'more' });
  await provisionRequest(h.deps, extension.id);
  const key = original.grantKey!;
  expect(iam.roles.get(key)!.endsAt).toBe(at('11:00:00'));

  // The role's deletion is refused, at the revoke and again at the sweeper's expiry.
  h.deps.provisioner = intercept(iam, {
    remove: async () => {
      throw denied();
    },
  });
  await expect(revokeRequest(h.deps, alice, original.id)).rejects.toThrow('IAM refused: AccessDenied');
  expect((await h.requests.get(extension.id))!.status).toBe('REVOKED');
  h.clock.set(at('10:01:00'));
  await sweep(h.deps);

  expect((await h.requests.get(original.id))!.status).toBe('ACTIVE');
  expect(iam.roles.get(key)!.endsAt).toBe(at('10:00:00'));
  expect(identity.policies.get(key)!.endsAt).toBe(at('10:00:00'));
});

it('expires a request on a shared role whose rewrite IAM refuses for good, when the others end later anyway', async () => {
  const short = await active(60);
  const long = await active(240);
  const key = short.grantKey!;
  expect(long.grantKey).toBe(key);
  iam.failNext = [denied()];

  h.clock.set(at('10:00:01'));
  const swept = await sweep(h.deps);

  expect(swept.errors).toEqual([]);
  expect((await h.requests.get(short.id))!.status).toBe('EXPIRED');
  // Left as it was: it ends with the request still on it.
  expect(iam.roles.get(key)!.endsAt).toBe(at('13:00:00'));
  expect((await h.grants.get(key))!.members).toEqual({ [long.id]: at('13:00:00') });
  // The trail says the role was left as it is, and why: no write was sent.
  const removed = (await h.requests.getDetail(short.id))!.events.filter((e) => e.action === 'ACCESS_REMOVED');
  expect(removed.map((e) => e.data)).toEqual([{ roleDeleted: false, stillCoveredBy: [long.id], calls: [], roleNotRewritten: 'as IAM refuses the rewrite for good, and they end no earlier than the request leaving' }]);
});

it('leaves a role a responder deleted deleted while its other requests stay: narrowing never brings it back; a new request does', async () => {
  const longer = await active(120);
  const shorter = await active(60);
  const key = longer.grantKey!;
  expect(shorter.grantKey).toBe(key);
  // In an incident, a responder deletes the role in the console.
  iam.roles.delete(key);

  expect((await revokeRequest(h.deps, alice, shorter.id)).status).toBe('REVOKED');
  expect(iam.roles.has(key)).toBe(false);
  expect(iam.log.at(-1)).toBe(`left ${longer.grantKey!.split('#')[1]} missing for ${shorter.id}`);
  expect(h.logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toContain(
    'the shared role could not be rewritten for its other requests; it is left as it is, missing, as someone deleted it outside rolegate',
  );
  expect(Object.keys((await h.grants.get(key))!.members)).toEqual([longer.id]);
  expect((await h.requests.get(longer.id))!.status).toBe('ACTIVE');
  const removed = (await h.requests.getDetail(shorter.id))!.events.filter((e) => e.action === 'ACCESS_REMOVED');
  expect(removed.map((e) => e.data)).toEqual([{ roleDeleted: false, stillCoveredBy: [longer.id], calls: [], roleNotRewritten: 'missing, as someone deleted it outside rolegate' }]);

  // A new request, approved (here under the auto-approving rule), writes the role again, as documented: freeze first in an incident.
  await active(30);
  expect(iam.roles.has(key)).toBe(true);
});
