import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { grantItemKey } from '../../../src/adapters/dynamodb/keys';
import { StaleWriteError } from '../../../src/domain/errors';
import type { RequestStore, RequestWrite } from '../../../src/domain/ports';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { MAX_GRANT_MEMBERS, provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

/*
 * A grant's members are one DynamoDB item, and a revoke reads each of them:
 * one role is shared among at most MAX_GRANT_MEMBERS live requests, and a
 * request past that ends FAILED, saying why, before anything reaches IAM.
 * And an ACTIVE commit that another write merely held (TransactionConflict)
 * is sent again at once, not left APPROVED for the sweeper.
 */

let h: Harness;
let iam: RecordingProvisioner;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ provisioner: iam, identity: new RecordingIdentityGranter() });
});
afterEach(async () => {
  await h.close();
});

/** Alice's auto-approved ReadOnly access in staging: one grant, one role, as every such request shares. */
const staging = (durationMinutes = 60) => createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes, reason: 'logs' });

/** A live grant of Alice's staging ReadOnly role, as if `n` requests were live on it (the first one real; the others only need an end to count). */
async function grantOf(n: number): Promise<{ first: string; end: string }> {
  const first = await staging();
  await provisionRequest(h.deps, first.id);
  const grantKey = (await h.requests.get(first.id))!.grantKey!;
  const end = new Date(h.clock.now().getTime() + 3_600_000).toISOString();
  const others = Object.fromEntries(Array.from({ length: n - 1 }, (_, i) => [`01MEMBER${String(i).padStart(18, '0')}`, end]));
  await h.requests.doc.send(
    new UpdateCommand({ TableName: h.tableName, Key: grantItemKey(grantKey), UpdateExpression: 'SET members = :m', ExpressionAttributeValues: { ':m': { [first.id]: end, ...others } } }),
  );
  return { first: first.id, end };
}

it(`shares one role among ${MAX_GRANT_MEMBERS} live requests, the last of them included`, async () => {
  await grantOf(MAX_GRANT_MEMBERS - 1);

  const last = await staging(90);
  await provisionRequest(h.deps, last.id);

  expect((await h.requests.get(last.id))!.status).toBe('ACTIVE');
});

it(`refuses a request past ${MAX_GRANT_MEMBERS} live members of one role: FAILED with why, never granted in IAM`, async () => {
  const { end } = await grantOf(MAX_GRANT_MEMBERS);
  const sent = iam.log.length;

  // Longer than the others: granting it would move the role's end past theirs.
  const late = await staging(90);
  await provisionRequest(h.deps, late.id);

  const failed = (await h.requests.get(late.id))!;
  expect(failed.status).toBe('FAILED');
  expect(failed.failure?.message).toMatch(new RegExp(`already serves ${MAX_GRANT_MEMBERS} live requests, the most rolegate shares one role among .*nothing was granted`));
  // Never granted: the only write is the undo every FAILED request gets, the role as its members had it (their end).
  expect(iam.log.slice(sent)).toEqual([expect.stringMatching(new RegExp(`^apply \\S+ until ${end.replace(/[.]/g, '\\.')} for ${late.id}$`))]);
});

it('lets a member already (a re-run after a crash) through a full grant rather than end FAILED what holds access', async () => {
  const { first } = await grantOf(MAX_GRANT_MEMBERS + 1);
  // As after a crash between the grant's save and the ACTIVE commit: APPROVED again, still a member.
  const request = (await h.requests.get(first))!;
  await h.requests.commit({ request: { ...request, version: request.version + 1, status: 'APPROVED', updatedAt: request.updatedAt }, expectedVersion: request.version, events: [] });

  await provisionRequest(h.deps, first);

  expect((await h.requests.get(first))!.status).toBe('ACTIVE');
});

it('sends the ACTIVE commit again when another write only held the request (TransactionConflict), instead of leaving it APPROVED', async () => {
  const real = h.requests;
  let held = 1;
  const contended: RequestStore = Object.assign(Object.create(real) as RequestStore, {
    commit: async (write: RequestWrite) => {
      if (write.request.status === 'ACTIVE' && held-- > 0) throw new StaleWriteError('contended');
      return real.commit(write);
    },
  });
  const request = await staging();
  h.deps.requests = contended;

  const result = await provisionRequest(h.deps, request.id);

  expect(result.outcome).toBe('active');
  expect((await real.get(request.id))!.status).toBe('ACTIVE');
  expect(held).toBe(-1);
});
