import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { identityPolicyName } from '../../../src/adapters/aws/iam-commands';
import { audit } from '../../../src/domain/audit';
import { GrantBusyError, OutOfTimeError } from '../../../src/domain/errors';
import { grantTargetFor } from '../../../src/domain/grants';
import type { AccessRequest } from '../../../src/domain/model';
import type { GrantStore, RequestStore, RequestWrite } from '../../../src/domain/ports';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest, type ProvisioningDeps, type ProvisionResult } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { routeAwsMocks } from '../../helpers/fault-iam';
import { awsError, type FaultKind } from '../../helpers/fault-schedule';
import { DEFAULT_IDENTITY_ACCOUNT, faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * A request that ends FAILED holds nothing: no role trusting its principal,
 * no identity-side sts:AssumeRole policy, no place in its grant. FAILED is
 * decided and committed under the grant's lease, from one read of the
 * request, after the undo; and a run whose ACTIVE commit finds the request
 * moved on takes back what it granted unless the request is ACTIVE. Two
 * runs race here the way two sweeps, or a sweep and the worker, do; the
 * interleavings are forced with hooks on the in-memory IAM and the stores,
 * not with timing. Real IamProvisioner and IamIdentityGranter, real
 * DynamoDB. (Found by review; each case failed before the fix.)
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
beforeAll(() => routeAwsMocks(iamMock, stsMock));

const SETTINGS = settingsWith((doc) => {
  (doc.provisioner as Record<string, unknown>).mode = 'aws';
  (doc.provisioner as Record<string, unknown>).identityRoleArn = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
  (doc.provisioner as Record<string, unknown>).identityExternalId = 'rolegate-identity-5b1e';
});
const IDENTITY_ACCOUNT = SETTINGS.identityAccountId ?? DEFAULT_IDENTITY_ACCOUNT;
const STAGING = '222222222222';
const api = (arn: string) => ({ arn, via: 'api' as const });

/**
 * Refused for good: on every try. A write to a role just created is tried four times while IAM may not show
 * it yet (its refusal then reads AccessDenied too), and only then, the role there to read, is it the failure.
 */
const ACCESS_DENIED: FaultKind = { name: 'AccessDenied (403) on every try', outcome: 'throw', effect: 'before', times: 4, error: () => awsError('AccessDenied', 'User is not authorized to perform: iam:AttachRolePolicy', 403) };
const THROTTLED: FaultKind = { name: 'Throttling on every in-step retry', outcome: 'throw', effect: 'before', times: 5, error: () => awsError('Throttling', 'Rate exceeded', 400) };
const failAttachRolePolicy = (kind: FaultKind) => w.schedule.arm({ point: { service: 'iam', command: 'AttachRolePolicy', nth: 1 }, kind });

let w: FaultWorld;
beforeEach(async () => {
  w = await faultWorld(SETTINGS);
});
afterEach(() => w.close());

/** Staging ReadOnly is auto-approved: the request is APPROVED and not yet provisioned. */
const approvedStaging = (minutes: number) => createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: minutes, reason: 'work' });

/** What IAM and the grant hold for a request's grant key. */
async function held(r: AccessRequest) {
  const t = grantTargetFor(SETTINGS, r);
  const role = w.aws.role(STAGING, t.roleName);
  return {
    role,
    trustEnds: role ? JSON.parse(role.trust).Statement[0].Condition.DateLessThan['aws:CurrentTime'] : undefined,
    identityPolicy: w.aws.userPolicy(IDENTITY_ACCOUNT, t.principal.name, identityPolicyName(t.grantKey)),
    members: Object.keys((await w.h.grants.get(t.grantKey))?.members ?? {}),
    grantItem: await w.rawGrant(t.grantKey),
  };
}

const eventsOf = async (id: string) => (await w.h.requests.getDetail(id))!.events;
const actionsOf = async (id: string) => (await eventsOf(id)).map((e) => e.action);

/** The request store, with `hook` run before each commit `pick` chooses. */
function beforeCommit(pick: (write: RequestWrite) => boolean, hook: () => Promise<void>): RequestStore {
  const real = w.h.requests;
  return Object.assign(Object.create(real) as RequestStore, {
    commit: async (write: RequestWrite) => {
      if (pick(write)) await hook();
      return real.commit(write);
    },
  });
}

function signal(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => undefined;
  const promise = new Promise<void>((r) => (fire = r));
  return { promise, fire };
}

it('a run waiting for the lease cannot grant access between a permanent failure\'s undo and its FAILED commit', async () => {
  const r = await approvedStaging(60);
  const bAtActiveCommit = signal();
  const bRefusedWhileAWaits = signal();
  const aDone = signal();
  let aWaiting = false;
  // A holds its FAILED commit until B has provisioned, or until B was refused the lease while A waits there.
  const depsA: ProvisioningDeps = {
    ...w.h.deps,
    requests: beforeCommit(
      (x) => x.request.status === 'FAILED',
      async () => {
        aWaiting = true;
        await Promise.race([bAtActiveCommit.promise, bRefusedWhileAWaits.promise]);
      },
    ),
  };
  const grants = w.h.grants;
  const depsB: ProvisioningDeps = {
    ...w.h.deps,
    grants: Object.assign(Object.create(grants) as GrantStore, {
      acquire: async (...args: Parameters<GrantStore['acquire']>) => {
        const lease = await grants.acquire(...args);
        if (!lease && aWaiting) bRefusedWhileAWaits.fire();
        return lease;
      },
    }),
    requests: beforeCommit(
      (x) => x.request.status === 'ACTIVE',
      async () => {
        bAtActiveCommit.fire();
        await aDone.promise;
      },
    ),
  };
  // B starts while A holds the lease, at the call that fails A for good.
  let b: Promise<ProvisionResult> | undefined;
  w.aws.onCall = (_service, command) => {
    if (command === 'AttachRolePolicy' && !b) b = provisionRequest(depsB, r.id);
  };
  failAttachRolePolicy(ACCESS_DENIED);

  const a = await provisionRequest(depsA, r.id).finally(aDone.fire);

  expect(a.outcome).toBe('failed');
  await expect(b).resolves.toMatchObject({ outcome: 'skipped', request: { status: 'FAILED' } });
  expect(await w.h.requests.get(r.id)).toMatchObject({ status: 'FAILED', provisioningAttempts: 1, failure: { code: 'AccessDenied', retryable: false } });
  expect(await held(r)).toEqual({ role: undefined, trustEnds: undefined, identityPolicy: undefined, members: [], grantItem: undefined });
  expect(await actionsOf(r.id)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONING_FAILED']);
  // What the attempt wrote before IAM refused it, and what the undo wrote after.
  expect((await eventsOf(r.id)).at(-1)!.data).toEqual({
    awsCode: 'AccessDenied',
    attempts: 1,
    writesBeforeError: ['CreateRole', 'PutRolePolicy'],
    cleanup: 'done',
    roleDeleted: true,
    stillCoveredBy: [],
    calls: ['DeleteRolePolicy', 'DeleteRole'],
  });
  // AWS's own text, which may name rolegate's roles and sessions, is for the operators' log, not the requester.
  const failed = (await w.h.requests.get(r.id))!;
  expect(failed.failure!.message).not.toContain('iam:AttachRolePolicy');
  expect(JSON.stringify(await eventsOf(r.id))).not.toContain('iam:AttachRolePolicy');
  expect(w.h.logger.lines.find((l) => l.message === 'provisioning failed')!.fields).toMatchObject({
    reason: `${failed.failure!.message} [AWS: User is not authorized to perform: iam:AttachRolePolicy]`,
  });
});

it('counts a transient failure from the read it decided on, so an attempt counted meanwhile cannot end the request FAILED with its role', async () => {
  w.h.deps.maxProvisioningAttempts = 2;
  const r = await approvedStaging(60);
  // While A holds the lease, B finds the grant busy (one try) and gives up.
  const depsB: ProvisioningDeps = { ...w.h.deps, lease: { ...w.h.deps.lease, attempts: 1 } };
  let b: ProvisionResult | undefined;
  w.aws.onCall = async (_service, command) => {
    if (command === 'AttachRolePolicy' && !b) b = await provisionRequest(depsB, r.id);
  };
  failAttachRolePolicy(THROTTLED);

  const a = await provisionRequest(w.h.deps, r.id);

  // Neither run failed it: A's one transient failure is under the budget, and B decided nothing outside the lease.
  expect(await w.h.requests.get(r.id)).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });
  expect(a.outcome).toBe('retry-later');
  expect(b).toEqual({ outcome: 'retry-later', busy: expect.any(GrantBusyError) });
  expect(b!.busy).not.toBeInstanceOf(OutOfTimeError);

  // The next transient failure spends the budget: FAILED, and only once nothing is left in IAM.
  w.aws.onCall = undefined;
  w.h.clock.advance(3 * 60_000);
  failAttachRolePolicy(THROTTLED);
  expect((await sweep(w.h.deps)).failed).toBe(1);

  expect(await w.h.requests.get(r.id)).toMatchObject({ status: 'FAILED', provisioningAttempts: 2, failure: { code: 'Throttling', retryable: true } });
  expect(await held(r)).toEqual({ role: undefined, trustEnds: undefined, identityPolicy: undefined, members: [], grantItem: undefined });
  expect(await actionsOf(r.id)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONING_ATTEMPT_FAILED', 'PROVISIONING_FAILED']);
  const [attempt, failed] = (await eventsOf(r.id)).slice(-2);
  // The first attempt's writes stay on record, with the request still APPROVED (no transition, nobody told).
  expect(attempt).toMatchObject({ actor: 'rolegate', data: { awsCode: 'Throttling', attempts: 1, maxAttempts: 2, writesBeforeError: ['CreateRole', 'PutRolePolicy'] } });
  expect(attempt).not.toHaveProperty('notify');
  expect(attempt).not.toHaveProperty('to');
  // The second found the role as the first left it, and wrote nothing before the throttled attach.
  expect(failed!.data).toEqual({ awsCode: 'Throttling', attempts: 2, writesBeforeError: [], cleanup: 'done', roleDeleted: true, stillCoveredBy: [], calls: ['DeleteRolePolicy', 'DeleteRole'] });
});

it('audits the role written by an attempt whose identity-account step then failed', async () => {
  const r = await approvedStaging(60);
  w.schedule.arm({ point: { service: 'iam', command: 'PutUserPolicy', nth: 1 }, kind: THROTTLED });

  expect((await provisionRequest(w.h.deps, r.id)).outcome).toBe('retry-later');

  expect(await w.h.requests.get(r.id)).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });
  expect((await held(r)).role).toBeDefined();
  expect((await eventsOf(r.id)).at(-1)).toMatchObject({
    action: 'PROVISIONING_ATTEMPT_FAILED',
    data: { awsCode: 'Throttling', attempts: 1, writesBeforeError: ['CreateRole', 'PutRolePolicy', 'AttachRolePolicy'] },
  });
});

it('takes the request back out of its shared grant when its ACTIVE commit finds it FAILED', async () => {
  const live = await approvedStaging(60);
  expect((await provisionRequest(w.h.deps, live.id)).outcome).toBe('active');
  const r = await approvedStaging(240);
  const requests = w.h.requests;
  // Between this run's grant save and its ACTIVE commit, a run that decided outside the lease (as
  // the previous version did after finding the grant busy) commits FAILED, with no undo.
  let failedMeanwhile = false;
  const deps: ProvisioningDeps = {
    ...w.h.deps,
    requests: beforeCommit(
      (x) => x.request.status === 'ACTIVE' && !failedMeanwhile,
      async () => {
        failedMeanwhile = true;
        const current = (await requests.get(r.id))!;
        const at = w.h.clock.now().toISOString();
        const failure = { code: 'GrantBusy', message: 'Another change to the grant is in progress.', at, retryable: true };
        await requests.commit({
          request: { ...current, version: current.version + 1, status: 'FAILED', updatedAt: at, provisioningAttempts: 5, failure },
          expectedVersion: current.version,
          events: [audit.provisioningFailed(current, { id: w.h.deps.ids.next(), at, actor: 'rolegate', comment: failure.message, data: { awsCode: 'GrantBusy', attempts: 5 } })],
        });
      },
    ),
  };

  const result = await provisionRequest(deps, r.id);

  expect(failedMeanwhile).toBe(true);
  expect(result).toMatchObject({ outcome: 'skipped', request: { status: 'FAILED' } });
  // The role and the identity policy are back to the live request's end, and only it is in the grant.
  const after = await held(r);
  expect(after.members).toEqual([live.id]);
  expect(after.trustEnds).toBe(live.endsAt);
  expect(JSON.parse(after.identityPolicy!).Statement[0].Condition.DateLessThan['aws:CurrentTime']).toBe(live.endsAt);
  expect(await actionsOf(r.id)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONING_FAILED', 'ACCESS_REMOVED']);
  expect((await eventsOf(r.id)).at(-1)!.data).toMatchObject({ roleDeleted: false, stillCoveredBy: [live.id] });
  expect(await w.h.requests.get(live.id)).toMatchObject({ status: 'ACTIVE' });
});

it('keeps the access when its ACTIVE commit finds the request made ACTIVE by a run that took over its lapsed lease', async () => {
  const r = await approvedStaging(60);
  let other: ProvisionResult | undefined;
  const deps: ProvisioningDeps = {
    ...w.h.deps,
    requests: beforeCommit(
      (x) => x.request.status === 'ACTIVE',
      async () => {
        // This run stalls past its lease; another run takes the grant over and finishes.
        w.h.clock.advance(3 * 60_000);
        other = await provisionRequest(w.h.deps, r.id);
      },
    ),
  };

  const result = await provisionRequest(deps, r.id);

  expect(other?.outcome).toBe('active');
  expect(result).toMatchObject({ outcome: 'skipped', request: { status: 'ACTIVE' } });
  const after = await held(r);
  expect(after.members).toEqual([r.id]);
  expect(after.trustEnds).toBe(r.endsAt);
  expect(JSON.parse(after.identityPolicy!).Statement[0].Condition.DateLessThan['aws:CurrentTime']).toBe(r.endsAt);
  expect(await actionsOf(r.id)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONED']);
});

it('leaves a request APPROVED, not FAILED, while the undo of its permanent failure fails, and fails it once the undo succeeds', async () => {
  const r = await approvedStaging(60);
  let refused = false;
  w.aws.onCall = (_service, command) => {
    if (command !== 'DeleteRole' || refused) return;
    refused = true;
    throw awsError('AccessDenied', 'User is not authorized to perform: iam:DeleteRole', 403);
  };
  failAttachRolePolicy(ACCESS_DENIED);

  const first = await provisionRequest(w.h.deps, r.id);

  expect(refused).toBe(true);
  expect(first.outcome).toBe('retry-later');
  expect(await w.h.requests.get(r.id)).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });
  expect((await held(r)).role).toBeDefined();

  w.h.clock.advance(3 * 60_000);
  failAttachRolePolicy(ACCESS_DENIED);
  expect((await sweep(w.h.deps)).failed).toBe(1);

  expect(await w.h.requests.get(r.id)).toMatchObject({ status: 'FAILED', provisioningAttempts: 2, failure: { code: 'AccessDenied' } });
  expect(await held(r)).toEqual({ role: undefined, trustEnds: undefined, identityPolicy: undefined, members: [], grantItem: undefined });
  expect(await actionsOf(r.id)).toEqual(['REQUESTED', 'AUTO_APPROVED', 'PROVISIONING_ATTEMPT_FAILED', 'PROVISIONING_FAILED']);
  expect((await eventsOf(r.id)).at(-2)!.data).toMatchObject({ awsCode: 'AccessDenied', attempts: 1, undo: 'failed' });
});

it('removes the role its failed attempt created even while IAM still answers "no such role" for it (its reads lag its writes)', async () => {
  const r = await approvedStaging(60);
  let created = false;
  let readsAfterCreation = 0;
  let lagging = 2;
  w.aws.onCall = (service, command) => {
    if (service === 'iam' && command === 'CreateRole') created = true;
    // The first read after creation (telling the write's refusal its own: the role is there) answers; the undo's reads lag.
    if (service === 'iam' && command === 'GetRole' && created && ++readsAfterCreation > 1 && lagging > 0) {
      lagging--;
      throw awsError('NoSuchEntity', 'The role cannot be found.', 404);
    }
  };
  failAttachRolePolicy(ACCESS_DENIED);

  const result = await provisionRequest(w.h.deps, r.id);

  expect(result.outcome).toBe('failed');
  expect(lagging).toBe(0);
  expect(await held(r)).toEqual({ role: undefined, trustEnds: undefined, identityPolicy: undefined, members: [], grantItem: undefined });
  expect((await eventsOf(r.id)).at(-1)).toMatchObject({ action: 'PROVISIONING_FAILED', data: expect.objectContaining({ awsCode: 'AccessDenied' }) });
});

describe('a request failing for good on a role live requests share', () => {
  /** IAM refuses every read of the role (an SCP, a narrowed provisioner role): B's own attempt and the rewrite for the others alike. */
  const refuseRoleReads = () => {
    let refusals = 0;
    w.aws.onCall = (_service, command) => {
      if (command !== 'GetRole') return;
      refusals += 1;
      throw awsError('AccessDenied', 'User is not authorized to perform: iam:GetRole with an explicit deny in a service control policy', 403);
    };
    return () => refusals;
  };

  it('ends FAILED when the others end no earlier, leaving the role as their grant has it, instead of waiting for them to end', async () => {
    const a = await approvedStaging(120);
    expect((await provisionRequest(w.h.deps, a.id)).outcome).toBe('active');
    const before = await held(a);
    const b = await approvedStaging(60);
    const refusals = refuseRoleReads();

    const result = await provisionRequest(w.h.deps, b.id);

    // Refused on its own attempt and on the rewrite for A that its undo tried.
    expect(refusals()).toBeGreaterThanOrEqual(2);
    expect(result.outcome).toBe('failed');
    expect(await w.h.requests.get(b.id)).toMatchObject({ status: 'FAILED', provisioningAttempts: 1, failure: { code: 'AccessDenied', retryable: false } });
    expect((await eventsOf(b.id)).at(-1)).toMatchObject({ action: 'PROVISIONING_FAILED', data: { awsCode: 'AccessDenied', attempts: 1, cleanup: 'done', roleDeleted: false, stillCoveredBy: [a.id], calls: [] } });
    w.aws.onCall = undefined;
    expect(await held(a)).toEqual({ ...before, grantItem: { ...before.grantItem, version: (before.grantItem!.version as number) + 1, updatedAt: expect.any(String) } });
    expect(before.members).toEqual([a.id]);
    expect(await w.h.requests.get(a.id)).toMatchObject({ status: 'ACTIVE' });
    expect(w.h.logger.lines.filter((l) => l.message.startsWith('the shared role could not be rewritten'))).toEqual([
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ requestId: b.id, remaining: [a.id] }) }),
    ]);
  });

  it("ends FAILED when its attempt wrote part of a changed profile before IAM refused the rest: the trust and the identity policy still end at the others' end", async () => {
    const a = await approvedStaging(120);
    expect((await provisionRequest(w.h.deps, a.id)).outcome).toBe('active');
    const before = await held(a);
    // The profile gains a managed policy an SCP forbids attaching, for every role alike.
    const FORBIDDEN = 'arn:aws:iam::aws:policy/IAMFullAccess';
    w.h.deps.settings = settingsWith((doc) => {
      Object.assign(doc.provisioner as Record<string, unknown>, SETTINGS.provisioner);
      (doc.profiles as { name: string; managedPolicyArns: string[] }[]).find((p) => p.name === 'ReadOnly')!.managedPolicyArns.push(FORBIDDEN);
    });
    const attaches: string[] = [];
    w.aws.onCall = (_service, command, input) => {
      if (command !== 'AttachRolePolicy') return;
      attaches.push(String(input.PolicyArn));
      if (input.PolicyArn === FORBIDDEN) throw awsError('AccessDenied', 'User is not authorized to perform: iam:AttachRolePolicy with an explicit deny in a service control policy', 403);
    };
    const b = await approvedStaging(60);

    const result = await provisionRequest(w.h.deps, b.id);

    // Its own attempt and the rewrite for A both reached the refused attach.
    expect(attaches.filter((arn) => arn === FORBIDDEN).length).toBeGreaterThanOrEqual(2);
    expect(result.outcome).toBe('failed');
    expect(await w.h.requests.get(b.id)).toMatchObject({ status: 'FAILED', failure: { code: 'AccessDenied', retryable: false } });
    w.aws.onCall = undefined;
    const after = await held(a);
    expect(after.trustEnds).toBe(before.trustEnds);
    expect(after.identityPolicy).toEqual(before.identityPolicy);
    expect(after.members).toEqual([a.id]);
    expect(await w.h.requests.get(a.id)).toMatchObject({ status: 'ACTIVE' });
  });

  it('records in its audit trail what its undo wrote back for the others: the role and the identity policy ending at their end again', async () => {
    const a = await approvedStaging(60);
    expect((await provisionRequest(w.h.deps, a.id)).outcome).toBe('active');
    const before = await held(a);
    // B's role write moves the end to B's; then its identity grant is refused for good.
    let refused = false;
    w.aws.onCall = (_service, command) => {
      if (command !== 'PutUserPolicy' || refused) return;
      refused = true;
      throw awsError('AccessDenied', 'User is not authorized to perform: iam:PutUserPolicy', 403);
    };
    const b = await approvedStaging(480);

    expect((await provisionRequest(w.h.deps, b.id)).outcome).toBe('failed');

    const after = await held(a);
    expect(after.trustEnds).toBe(before.trustEnds);
    expect(after.identityPolicy).toEqual(before.identityPolicy);
    expect((await eventsOf(b.id)).at(-1)).toMatchObject({
      action: 'PROVISIONING_FAILED',
      data: { awsCode: 'AccessDenied', attempts: 1, cleanup: 'done', roleDeleted: false, stillCoveredBy: [a.id], calls: ['UpdateAssumeRolePolicy', 'TagRole', 'PutRolePolicy', 'PutUserPolicy'] },
    });
  });

  it('stays APPROVED, to be tried again, when it would end after the others: what its attempt wrote may reach past their end', async () => {
    const a = await approvedStaging(60);
    expect((await provisionRequest(w.h.deps, a.id)).outcome).toBe('active');
    const b = await approvedStaging(120);
    refuseRoleReads();

    const result = await provisionRequest(w.h.deps, b.id);

    expect(result.outcome).toBe('retry-later');
    expect(await w.h.requests.get(b.id)).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });
    expect((await held(a)).members).toEqual([a.id]);
  });
});
