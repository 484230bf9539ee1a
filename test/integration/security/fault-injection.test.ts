import { InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { AttachRolePolicyCommand, CreateRoleCommand, DeleteRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { identityPolicyName } from '../../../src/adapters/aws/iam-commands';
import { ConflictError } from '../../../src/domain/errors';
import { grantTargetFor, specFor, type GrantTarget } from '../../../src/domain/grants';
import type { AccessRequest, AuditEvent } from '../../../src/domain/model';
import { desiredRole, identityPolicy, samePolicy } from '../../../src/domain/provisioning/documents';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { isIamWrite, routeAwsMocks, type FakeRole } from '../../helpers/fault-iam';
import { awsError, InjectedCrash, pointLabel, type FaultKind, type FaultPoint, type FaultService } from '../../helpers/fault-schedule';
import { DEFAULT_IDENTITY_ACCOUNT, faultWorld, inPool, type FaultWorld } from '../../helpers/fault-world';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * Issue 7, fault injection. Every STS, IAM and DynamoDB call that a full
 * provisioning or a full revocation makes is numbered in a fault-free run;
 * then, for every one of those calls and every kind of fault, a fresh world
 * (own table on DynamoDB Local, own in-memory IAM) runs the same use-case with
 * that single call misbehaving, re-drives it the way production does (the
 * sweeper three minutes later, or the revoke again) and checks:
 *   - the request ends ACTIVE with its whole role, or FAILED with a reason
 *     (never ACTIVE without its role); a revocation ends with the role gone;
 *   - one more run changes nothing (same role state, same request state, no
 *     write to IAM or DynamoDB);
 *   - the audit trail holds each transition exactly once;
 *   - at no point does the principal hold more access than its live
 *     requests and its profile allow.
 * The cases are generated from the recorded calls, so a step added to the
 * provisioner or the use-cases is covered without touching this file.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);

const SETTINGS = settingsWith((doc) => {
  (doc.provisioner as Record<string, unknown>).mode = 'aws';
  (doc.provisioner as Record<string, unknown>).identityRoleArn = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
  (doc.provisioner as Record<string, unknown>).identityExternalId = 'rolegate-identity-5b1e';
});
const IDENTITY_ACCOUNT = SETTINGS.identityAccountId ?? DEFAULT_IDENTITY_ACCOUNT;
const api = (arn: string) => ({ arn, via: 'api' as const });
const CONCURRENT_WORLDS = 12;
const MAX_REDRIVES = 5;

/** How the first run is expected to end, before any re-drive. */
type FirstRun = 'absorbed' | 'exhausted' | 'permanent' | 'dies' | 'any';
interface Kind extends FaultKind {
  firstRun: FirstRun;
}

const IAM_KINDS: Kind[] = [
  {
    name: 'Throttling (400) on every in-step retry',
    outcome: 'throw',
    effect: 'before',
    times: 5,
    firstRun: 'exhausted',
    error: () => awsError('Throttling', 'Rate exceeded', 400),
  },
  {
    name: 'ServiceFailure (500) once, after the call took effect',
    outcome: 'throw',
    effect: 'after',
    times: 1,
    firstRun: 'absorbed',
    error: () => awsError('ServiceFailure', 'The request processing has failed because of an unknown error, exception or failure.', 500),
  },
  {
    name: 'TimeoutError after the call took effect, on every in-step retry',
    outcome: 'throw',
    effect: 'after',
    times: 5,
    firstRun: 'exhausted',
    error: () => awsError('TimeoutError', 'Connection timed out after 5000 ms', undefined),
  },
  { name: 'AccessDenied (403)', outcome: 'throw', effect: 'before', times: 1, firstRun: 'permanent', error: () => awsError('AccessDenied', 'User is not authorized to perform this action', 403) },
  { name: 'crash (non-AWS error) after the call took effect', outcome: 'throw', effect: 'after', times: 1, firstRun: 'any', error: () => new InjectedCrash('injected crash after the call') },
  { name: 'invocation dies after the call took effect', outcome: 'halt', effect: 'after', times: 1, firstRun: 'dies' },
];

const DYNAMO_KINDS: Kind[] = [
  {
    name: 'ProvisionedThroughputExceededException (SDK retries spent)',
    outcome: 'throw',
    effect: 'before',
    times: 1,
    firstRun: 'any',
    error: () => new ProvisionedThroughputExceededException({ message: 'The level of configured provisioned throughput for the table was exceeded.', $metadata: { httpStatusCode: 400 } }),
  },
  {
    name: 'InternalServerError (500) after the call took effect',
    outcome: 'throw',
    effect: 'after',
    times: 1,
    firstRun: 'any',
    error: () => new InternalServerError({ message: 'Internal server error', $metadata: { httpStatusCode: 500 } }),
  },
  { name: 'crash (non-AWS error) before the call', outcome: 'throw', effect: 'before', times: 1, firstRun: 'any', error: () => new InjectedCrash('injected crash before the call') },
  { name: 'invocation dies after the call took effect', outcome: 'halt', effect: 'after', times: 1, firstRun: 'any' },
  { name: 'answer lost and the SDK re-sends the same request', outcome: 'replay', effect: 'after', times: 1, firstRun: 'any' },
];

// ---------------------------------------------------------------------------
// The use-cases under fault, each as set-up / run / re-drive / run once more.

interface Ctx {
  target: AccessRequest;
  /** Other requests on the same grant key, live throughout. */
  others: AccessRequest[];
  t: GrantTarget;
}

interface Phase {
  name: string;
  /** What the request must end as. */
  ends: 'ACTIVE or FAILED' | 'REVOKED' | 'EXPIRED';
  /** Fault-free set-up, in its own invocation. */
  setup(w: FaultWorld): Promise<Ctx>;
  /** The run the fault is injected into. */
  act(w: FaultWorld, c: Ctx): Promise<unknown>;
  /** One re-drive, as production does it. */
  redrive(w: FaultWorld, c: Ctx): Promise<unknown>;
  /** Once converged, a further run: returns what it did wrong (it must change nothing). */
  again(w: FaultWorld, c: Ctx): Promise<string[]>;
  /**
   * The writes to the role the run has just created. IAM authorises a write to a role it does not show
   * yet against role/<name>, without the path, and refuses it AccessDenied: a one-off refusal of one of
   * these is that lag, tried again, and the run goes through.
   */
  newRoleWrites?: string[];
}

/** How the first run is expected to end under this fault, at this point, in this phase. */
function firstRunOf(phase: Phase, point: FaultPoint | undefined, kind: Kind | undefined): FirstRun | undefined {
  if (!point || !kind) return undefined;
  const denied = kind.outcome === 'throw' && kind.times === 1 && kind.error?.().name === 'AccessDenied';
  return denied && phase.newRoleWrites?.includes(pointLabel(point)) ? 'absorbed' : kind.firstRun;
}

function stagingRequest(w: FaultWorld, minutes: number): Promise<AccessRequest> {
  // Staging S3ReadOnly is auto-approved and has both a managed and an inline policy: every creation step runs.
  return createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: minutes, reason: 'fault injection' });
}

async function provisioned(w: FaultWorld, minutes: number): Promise<AccessRequest> {
  const request = await stagingRequest(w, minutes);
  const result = await provisionRequest(w.h.deps, request.id);
  if (result.outcome !== 'active') throw new Error(`set-up: provisioning ended ${result.outcome}`);
  return result.request!;
}

/** Three minutes later, in a new invocation: any lease of a dead invocation has lapsed, APPROVED work is due again. */
function threeMinutesLater(w: FaultWorld): void {
  w.h.clock.advance(3 * 60_000);
  w.newInvocation();
}

const ctxFor = (target: AccessRequest, others: AccessRequest[]): Ctx => ({ target, others, t: grantTargetFor(SETTINGS, target) });

async function sweepAgainChangesNothing(w: FaultWorld): Promise<string[]> {
  threeMinutesLater(w);
  const report = await sweep(w.h.deps);
  const did = report.expired + report.timedOut + report.provisioned + report.failed;
  return [...(did ? [`a further sweep still did ${did} transitions`] : []), ...report.errors.map((e) => `a further sweep failed on ${e.step}: ${e.error}`)];
}

const reDriveProvisioning = async (w: FaultWorld) => {
  threeMinutesLater(w);
  return sweep(w.h.deps);
};

const provisionAgain = async (w: FaultWorld, c: Ctx) => {
  const result = await provisionRequest(w.h.deps, c.target.id);
  return [...(result.outcome === 'skipped' ? [] : [`provisionRequest again answered ${result.outcome}, not skipped`]), ...(await sweepAgainChangesNothing(w))];
};

const PROVISION_NEW: Phase = {
  name: 'provisioning a new role',
  ends: 'ACTIVE or FAILED',
  setup: async (w) => ctxFor(await stagingRequest(w, 60), []),
  act: (w, c) => provisionRequest(w.h.deps, c.target.id),
  redrive: reDriveProvisioning,
  again: provisionAgain,
  newRoleWrites: ['iam:PutRolePolicy#1', 'iam:AttachRolePolicy#1'],
};

const PROVISION_OVERLAP: Phase = {
  name: 'provisioning onto a role another live request holds (trust and tags updated in place)',
  ends: 'ACTIVE or FAILED',
  setup: async (w) => {
    const first = await provisioned(w, 60);
    w.h.clock.advance(10 * 60_000);
    return ctxFor(await stagingRequest(w, 120), [first]);
  },
  act: (w, c) => provisionRequest(w.h.deps, c.target.id),
  redrive: reDriveProvisioning,
  again: provisionAgain,
};

const REVOKE: Phase = {
  name: 'revoking the last request on a role (role and identity policy deleted)',
  ends: 'REVOKED',
  setup: async (w) => ctxFor(await provisioned(w, 60), []),
  act: (w, c) => revokeRequest(w.h.deps, api(ARN.alice), c.target.id, 'done'),
  redrive: async (w, c) => {
    threeMinutesLater(w);
    return revokeRequest(w.h.deps, api(ARN.alice), c.target.id, 'done');
  },
  again: async (w, c) => {
    const again = await revokeRequest(w.h.deps, api(ARN.alice), c.target.id, 'done').then(
      (r) => `revoke again answered ${r.status} instead of a conflict`,
      (e: unknown) => (e instanceof ConflictError ? undefined : `revoke again failed with ${String(e)} instead of a conflict`),
    );
    return [...(again ? [again] : []), ...(await sweepAgainChangesNothing(w))];
  },
};

const EXPIRE: Phase = {
  name: 'expiring the last request on a role by the sweeper',
  ends: 'EXPIRED',
  setup: async (w) => {
    const request = await provisioned(w, 60);
    w.h.clock.set(new Date(Date.parse(request.endsAt!) + 1000).toISOString());
    return ctxFor(request, []);
  },
  act: (w) => sweep(w.h.deps),
  redrive: async (w) => {
    threeMinutesLater(w);
    return sweep(w.h.deps);
  },
  again: (w) => sweepAgainChangesNothing(w),
};

// ---------------------------------------------------------------------------
// What is observed, and what must hold.

interface Observed {
  request: AccessRequest;
  events: AuditEvent[];
  others: { request: AccessRequest; events: AuditEvent[] }[];
  grant: Record<string, unknown> | undefined;
  role: FakeRole | undefined;
  identity: string | undefined;
  now: string;
}

async function observe(w: FaultWorld, c: Ctx): Promise<Observed> {
  const [detail, grant, ...others] = await Promise.all([
    w.h.requests.getDetail(c.target.id).then((d) => d!),
    w.rawGrant(c.t.grantKey),
    ...c.others.map(async (o) => (await w.h.requests.getDetail(o.id))!),
  ] as const);
  return {
    request: detail.request,
    events: detail.events,
    others: others.map((d) => ({ request: d!.request, events: d!.events })),
    grant,
    role: w.aws.role(c.t.account.id, c.t.roleName),
    identity: w.aws.userPolicy(IDENTITY_ACCOUNT, c.t.principal.name, identityPolicyName(c.t.grantKey)),
    now: w.h.clock.now().toISOString(),
  };
}

const isLive = (r: AccessRequest) => r.status === 'ACTIVE' || r.status === 'APPROVED';
const endOf = (doc: string | undefined): string | undefined => {
  const statement = (JSON.parse(doc ?? '{}') as { Statement?: { Condition?: { DateLessThan?: Record<string, string> } }[] }).Statement?.[0];
  return statement?.Condition?.DateLessThan?.['aws:CurrentTime'];
};

/** What is wrong with the role and identity policy, against the role that serves exactly `members` (request id → end). */
function roleProblems(o: Observed, c: Ctx, members: Record<string, string>): string[] {
  const spec = specFor(SETTINGS, c.t, members);
  const d = desiredRole(spec);
  const role = o.role;
  const p: string[] = [];
  if (!role) p.push('the role does not exist');
  else {
    if (role.Path !== d.path || role.tags['managed-by'] !== 'rolegate') p.push('the role is not under /rolegate/ with managed-by=rolegate');
    if (!samePolicy(JSON.parse(role.trust), d.trustPolicy)) p.push(`the role's trust (until ${endOf(role.trust)}) is not the desired one (until ${spec.endsAt})`);
    if (JSON.stringify(role.attached) !== JSON.stringify(d.managedPolicyArns)) p.push(`the role holds managed policies [${role.attached}] instead of [${d.managedPolicyArns}]`);
    const inline = Object.keys(role.inline).sort();
    const wanted = d.inlinePolicy ? [d.inlinePolicyName] : [];
    if (JSON.stringify(inline) !== JSON.stringify(wanted) || (d.inlinePolicy && !samePolicy(JSON.parse(role.inline[d.inlinePolicyName]!), d.inlinePolicy))) {
      p.push(`the role's inline policies [${inline}] are not the profile's [${wanted}]`);
    }
    if ((role.boundary ?? undefined) !== d.permissionsBoundaryArn || role.MaxSessionDuration !== d.maxSessionDuration || role.Description !== d.description) {
      p.push('the role has the wrong boundary, session duration or description');
    }
    for (const tag of d.tags) if (role.tags[tag.Key] !== tag.Value) p.push(`the role's tag ${tag.Key} is ${role.tags[tag.Key]}, not ${tag.Value}`);
  }
  if (!o.identity) p.push('the identity-side policy is missing');
  else if (!samePolicy(JSON.parse(o.identity), identityPolicy(d.roleArn, spec.endsAt))) p.push(`the identity-side policy (until ${endOf(o.identity)}) is not the desired one (until ${spec.endsAt})`);
  const members_ = (o.grant?.members ?? {}) as Record<string, string>;
  if (JSON.stringify(Object.keys(members_).sort()) !== JSON.stringify(Object.keys(members).sort())) {
    p.push(`the grant item lists [${Object.keys(members_)}] instead of [${Object.keys(members)}]`);
  }
  return p;
}

/** Security: the role and identity policy never let the principal in beyond the end of the grant's live (APPROVED or ACTIVE) requests. */
function leftoverProblems(o: Observed): string[] {
  const p: string[] = [];
  const all = [o.request, ...o.others.map((x) => x.request)];
  const liveEnd = all
    .filter(isLive)
    .map((r) => r.endsAt!)
    .sort()
    .at(-1);
  const statuses = all.map((r) => r.status).join(', ');
  for (const [what, doc] of [
    ['the role trusts the principal', o.role?.trust],
    ['the identity-side policy allows sts:AssumeRole', o.identity],
  ] as const) {
    if (doc === undefined) continue;
    const end = endOf(doc);
    // No end at all is the worst case, not a harmless one.
    if (!end) {
      p.push(`${what} with no end (${statuses})`);
      continue;
    }
    if (end <= o.now) continue;
    if (!liveEnd) p.push(`${what} until ${end} although no request on the grant is live (${statuses})`);
    else if (end > liveEnd) p.push(`${what} until ${end}, beyond the end of the last live request (${liveEnd}; ${statuses})`);
  }
  return p;
}

/** Security: a role the principal may assume never holds more than its profile allows, even half-built. */
function overreachProblems(o: Observed, c: Ctx): string[] {
  if (!o.role) return [];
  const trustEnd = endOf(o.role.trust);
  if (trustEnd !== undefined && trustEnd <= o.now) return []; // no longer assumable (a trust without an end always is)
  const p: string[] = [];
  const d = desiredRole(specFor(SETTINGS, c.t, { [c.target.id]: c.target.endsAt! }));
  const extra = o.role.attached.filter((a) => !d.managedPolicyArns.includes(a));
  if (extra.length) p.push(`the role holds managed policies outside the profile: ${extra}`);
  const denies = JSON.stringify(d.inlinePolicy ?? {}).includes('"Deny"');
  if (denies && o.role.attached.length && !o.role.inline[d.inlinePolicyName]) {
    p.push(`the principal may assume the role while it holds [${o.role.attached}] without the profile's inline Deny policy: more than ${c.t.profile.name} allows`);
  }
  return p;
}

const ONCE = ['PROVISIONED', 'PROVISIONING_FAILED', 'REVOKED', 'EXPIRED', 'ACCESS_REMOVED'];

/** Each transition exactly once, in order, leading to the request's status; nothing once-only repeated. */
function auditProblems(request: AccessRequest, events: AuditEvent[], expected?: string[]): string[] {
  const p: string[] = [];
  let state: string | undefined;
  for (const e of events) {
    if (e.to === undefined) continue;
    if (e.from !== state) p.push(`${e.action} records a transition from ${e.from}, but the request was ${state}`);
    state = e.to;
  }
  if (state !== request.status) p.push(`the audited transitions lead to ${state}, but the request is ${request.status}`);
  for (const action of ONCE) {
    const n = events.filter((e) => e.action === action).length;
    if (n > 1) p.push(`${action} recorded ${n} times`);
  }
  const actions = events.map((e) => e.action);
  if (expected && JSON.stringify(actions) !== JSON.stringify(expected)) p.push(`audit trail [${actions}] instead of [${expected}]`);
  return p;
}

// ---------------------------------------------------------------------------
// One case: set up, inject, re-drive, check.

type Category = 'outcome' | 'convergence' | 'audit' | 'leftover' | 'overreach' | 'coverage';
interface Violation {
  category: Category;
  case: string;
  problem: string;
}
interface CaseSummary {
  label: string;
  firstRun: string;
  first: string;
  final: string;
  redrives: number;
}
interface MatrixResult {
  points: FaultPoint[];
  cases: CaseSummary[];
  violations: Violation[];
}

const provisioning = (phase: Phase) => phase.ends === 'ACTIVE or FAILED';
const settled = (phase: Phase, r: AccessRequest) => (provisioning(phase) ? r.status === 'ACTIVE' || r.status === 'FAILED' : r.status === phase.ends);
const BASE_EVENTS = ['REQUESTED', 'AUTO_APPROVED'];

async function runCase(phase: Phase, point: FaultPoint | undefined, kind: Kind | undefined, into: MatrixResult): Promise<void> {
  const label = point && kind ? `${pointLabel(point)} ${kind.name}` : 'no fault';
  const firstRun = firstRunOf(phase, point, kind);
  const problems: Violation[] = [];
  const flag = (category: Category, list: string[], stage = '') => list.forEach((problem) => problems.push({ category, case: label, problem: `${stage}${problem}` }));
  const w = await faultWorld(SETTINGS);
  try {
    const c = await phase.setup(w);
    w.newInvocation();
    w.schedule.arm(point && kind ? { point, kind } : undefined);
    const run = phase.act(w, c).then(
      () => 'returned',
      (e: unknown) => `threw ${e instanceof Error ? e.name : String(e)}`,
    );
    const first = await Promise.race([run, w.schedule.halted.then(() => 'died')]);
    const fired = [...w.schedule.fired];
    const seen = [...w.schedule.calls];
    w.schedule.disarm();
    if (point && kind && !fired.length) flag('coverage', ['the fault never fired: the call was not made again']);

    // After the faulty run, before any re-drive.
    const o1 = await observe(w, c);
    const r1 = o1.request;
    const after = 'after the faulty run: ';
    flag('leftover', leftoverProblems(o1), after);
    flag('overreach', overreachProblems(o1, c), after);
    flag('audit', auditProblems(r1, o1.events), after);
    if (provisioning(phase)) {
      if (!['APPROVED', 'ACTIVE', 'FAILED'].includes(r1.status)) flag('outcome', [`the request is ${r1.status}`], after);
      if (r1.status === 'ACTIVE') flag('outcome', roleProblems(o1, c, liveMembers(o1)).map((x) => `ACTIVE, but ${x}`), after);
      if (r1.status === 'FAILED' && !(r1.failure?.code && r1.failure.message)) flag('outcome', ['FAILED without a code and a reason'], after);
      const expected = { absorbed: 'ACTIVE', exhausted: 'APPROVED', permanent: 'FAILED', dies: 'APPROVED', any: undefined }[firstRun ?? 'absorbed'];
      if (expected && r1.status !== expected) flag('outcome', [`the request is ${r1.status}, expected ${expected} (${first})`], after);
      if (firstRun === 'exhausted' && r1.provisioningAttempts !== 1) flag('outcome', [`provisioningAttempts is ${r1.provisioningAttempts}, expected 1`], after);
      if (point?.service === 'dynamodb' && r1.status === 'FAILED') flag('outcome', ['a DynamoDB fault marked the request FAILED'], after);
      for (const other of o1.others) if (other.request.status !== 'ACTIVE') flag('outcome', [`the other live request on the grant is ${other.request.status}`], after);
      if (o1.others.length && !o1.role) flag('outcome', ['the role the other live request holds is gone'], after);
    } else {
      if (![phase.ends, 'ACTIVE'].includes(r1.status)) flag('outcome', [`the request is ${r1.status}`], after);
      if (r1.status === phase.ends) flag('outcome', endedProblems(o1).map((x) => `${phase.ends}, but ${x}`), after);
      if (firstRun === 'absorbed' && r1.status !== phase.ends) flag('outcome', [`the request is ${r1.status}, expected ${phase.ends} at once (${first})`], after);
      if (firstRun && ['exhausted', 'permanent', 'dies'].includes(firstRun) && r1.status !== 'ACTIVE') flag('outcome', [`the request is ${r1.status}, expected still ACTIVE (${first})`], after);
      // An attempt that failed (rather than died) after IAM answered a write leaves what it wrote on the trail.
      // (A write whose answer was lost is not known to rolegate to have been made; the re-drive finds what it did.)
      const answered = seen.filter(madeWrite);
      const attempts = o1.events.filter((e) => e.action === 'ACCESS_REMOVAL_ATTEMPT_FAILED');
      if (point?.service !== 'dynamodb' && first.startsWith('threw') && r1.status === 'ACTIVE' && answered.length > 0 && attempts.length === 0) {
        flag('audit', [`the failed attempt wrote ${answered.map(pointLabel)} to IAM, and the trail says nothing of it`], after);
      }
      if (answered.length === 0 && attempts.length > 0) flag('audit', ['a failed attempt that wrote nothing to IAM was audited as if it had'], after);
      for (const a of attempts) {
        const writes = (a.data as { writesBeforeError?: unknown } | undefined)?.writesBeforeError;
        if (!Array.isArray(writes) || writes.length === 0) flag('audit', [`${a.action} lists no writes`], after);
      }
    }

    // Re-drive as production does until the request settles.
    let redrives = 0;
    let current = r1;
    // The IAM writes IAM answered, in the faulty run and each re-drive (recorded, with no fault).
    const answeredWrites = seen.filter(madeWrite).map((x) => x.command);
    while (!settled(phase, current) && redrives < MAX_REDRIVES) {
      redrives++;
      const calls = await w.schedule.record(() => phase.redrive(w, c).catch(() => undefined));
      answeredWrites.push(...calls.filter(madeWrite).map((x) => x.command));
      current = (await w.h.requests.get(c.target.id))!;
    }
    if (!settled(phase, current)) flag('convergence', [`still ${current.status} after ${MAX_REDRIVES} re-drives`]);

    const o2 = await observe(w, c);
    const r2 = o2.request;
    const fin = 'once settled: ';
    flag('leftover', leftoverProblems(o2), fin);
    flag('overreach', overreachProblems(o2, c), fin);
    if (provisioning(phase)) {
      if (r2.status === 'ACTIVE') flag('outcome', roleProblems(o2, c, liveMembers(o2)).map((x) => `ACTIVE, but ${x}`), fin);
      if (r2.status === 'FAILED' && !(r2.failure?.code && r2.failure.message)) flag('outcome', ['FAILED without a code and a reason'], fin);
      if (firstRun === 'permanent' && !(r2.status === 'FAILED' && r2.failure?.code === 'AccessDenied')) flag('outcome', [`${r2.status} (${r2.failure?.code}), expected FAILED with AccessDenied`], fin);
      if (firstRun && ['absorbed', 'exhausted', 'dies'].includes(firstRun) && r2.status !== 'ACTIVE') flag('outcome', [`${r2.status} (${r2.failure?.code}: ${r2.failure?.message}), expected ACTIVE`], fin);
      if (point?.service === 'dynamodb' && r2.status !== 'ACTIVE') flag('outcome', [`${r2.status}, expected ACTIVE after a DynamoDB fault`], fin);
      // Each counted failed attempt is audited; the last one of a FAILED request is its PROVISIONING_FAILED.
      const failedAttempts = Math.max(0, (r2.provisioningAttempts ?? 0) - (r2.status === 'FAILED' ? 1 : 0));
      const trail = [...BASE_EVENTS, ...Array<string>(failedAttempts).fill('PROVISIONING_ATTEMPT_FAILED'), r2.status === 'ACTIVE' ? 'PROVISIONED' : 'PROVISIONING_FAILED'];
      flag('audit', auditProblems(r2, o2.events, trail), fin);
      for (const other of o2.others) flag('audit', auditProblems(other.request, other.events, [...BASE_EVENTS, 'PROVISIONED']), `${fin}other request: `);
    } else {
      if (r2.status === phase.ends) flag('outcome', endedProblems(o2).map((x) => `${phase.ends}, but ${x}`), fin);
      // Each failed attempt that wrote to IAM is audited before the end that succeeded.
      const attempts = o2.events.filter((e) => e.action === 'ACCESS_REMOVAL_ATTEMPT_FAILED').length;
      flag('audit', auditProblems(r2, o2.events, [...BASE_EVENTS, 'PROVISIONED', ...Array<string>(attempts).fill('ACCESS_REMOVAL_ATTEMPT_FAILED'), phase.ends, 'ACCESS_REMOVED']), fin);
      // Between them, the attempts' events list exactly the writes IAM answered: none twice, none made up, and none
      // lost, but those of an invocation that died (nothing of it survives to say what it wrote).
      const listed = o2.events.flatMap((e) => {
        const data = (e.data ?? {}) as { writesBeforeError?: string[]; calls?: string[] };
        return e.action === 'ACCESS_REMOVAL_ATTEMPT_FAILED' ? (data.writesBeforeError ?? []) : e.action === 'ACCESS_REMOVED' ? (data.calls ?? []) : [];
      });
      const missing = without(answeredWrites, listed);
      const extra = without(listed, answeredWrites);
      if (extra.length > 0) flag('audit', [`the trail lists IAM writes IAM never answered: ${extra}`], fin);
      if (missing.length > 0 && firstRun !== 'dies' && kind?.outcome !== 'halt') flag('audit', [`IAM answered writes the trail does not list: ${missing}`], fin);
    }

    // Once settled, running again converges: nothing changes, nothing is written.
    const before = snapshotOf(o2, w);
    const problemsAgain: string[] = [];
    const calls = await w.schedule.record(async () => problemsAgain.push(...(await phase.again(w, c))));
    const writes = calls.filter((x) => (x.service === 'iam' && isIamWrite(x.command)) || (x.service === 'dynamodb' && !/^(Get|Query|Scan)/.test(x.command)));
    if (writes.length) problemsAgain.push(`a further run wrote again: ${writes.map(pointLabel)}`);
    const afterAgain = snapshotOf(await observe(w, c), w);
    if (JSON.stringify(afterAgain) !== JSON.stringify(before)) problemsAgain.push(`a further run changed the state: ${diff(before, afterAgain)}`);
    flag('convergence', problemsAgain);

    into.cases.push({ label, firstRun: firstRun ?? '-', first: `${first} → ${r1.status}`, final: r2.status + (r2.failure ? ` (${r2.failure.code})` : ''), redrives });
  } catch (e) {
    flag('outcome', [`the case itself failed: ${e instanceof Error ? e.stack : String(e)}`]);
  } finally {
    await w.close();
  }
  into.violations.push(...problems);
}

/** An IAM write IAM carried out: answered without a fault, and not refused with IAM's own error. */
const madeWrite = (x: { service: string; command: string; faulted?: string; refused?: boolean }) => x.service === 'iam' && isIamWrite(x.command) && !x.faulted && !x.refused;

/** `a` less one occurrence of each element of `b` (multisets of command names). */
function without(a: string[], b: string[]): string[] {
  const rest = [...b];
  return a.filter((x) => {
    const i = rest.indexOf(x);
    if (i < 0) return true;
    rest.splice(i, 1);
    return false;
  });
}

function liveMembers(o: Observed): Record<string, string> {
  return Object.fromEntries([o.request, ...o.others.map((x) => x.request)].filter((r) => r.status === 'ACTIVE').map((r) => [r.id, r.endsAt!]));
}

function endedProblems(o: Observed): string[] {
  return [
    ...(o.role ? ['the role still exists'] : []),
    ...(o.identity ? ['the identity-side policy still exists'] : []),
    ...(o.grant ? [`the grant item is still there (${JSON.stringify(o.grant.members)})`] : []),
  ];
}

function snapshotOf(o: Observed, w: FaultWorld) {
  return { request: o.request, others: o.others, events: o.events.map((e) => e.id), grant: o.grant ?? null, iam: w.aws.dump() };
}

function diff(a: object, b: object): string {
  const keys = Object.keys(a) as (keyof typeof a)[];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).join(', ');
}

// ---------------------------------------------------------------------------

interface Matrix {
  title: string;
  phase: Phase;
  services: FaultService[];
  kinds: Kind[];
}

const MATRICES: Matrix[] = [
  { title: `STS and IAM faults while ${PROVISION_NEW.name}`, phase: PROVISION_NEW, services: ['sts', 'iam'], kinds: IAM_KINDS },
  { title: `STS and IAM faults while ${PROVISION_OVERLAP.name}`, phase: PROVISION_OVERLAP, services: ['sts', 'iam'], kinds: IAM_KINDS },
  { title: `STS and IAM faults while ${REVOKE.name}`, phase: REVOKE, services: ['sts', 'iam'], kinds: IAM_KINDS },
  { title: `DynamoDB faults while ${PROVISION_NEW.name}`, phase: PROVISION_NEW, services: ['dynamodb'], kinds: DYNAMO_KINDS },
  { title: `DynamoDB faults while ${REVOKE.name}`, phase: REVOKE, services: ['dynamodb'], kinds: DYNAMO_KINDS },
  { title: `DynamoDB faults while ${EXPIRE.name}`, phase: EXPIRE, services: ['dynamodb'], kinds: DYNAMO_KINDS },
];

/** The numbered calls of one fault-free run of the phase. */
async function baseline(m: Matrix): Promise<FaultPoint[]> {
  const w = await faultWorld(SETTINGS);
  try {
    const c = await m.phase.setup(w);
    w.newInvocation();
    return (await w.schedule.record(() => m.phase.act(w, c))).filter((p) => m.services.includes(p.service));
  } finally {
    await w.close();
  }
}

const results = new Map<string, MatrixResult>();

beforeAll(async () => {
  routeAwsMocks(iamMock, stsMock);
  const jobs: (() => Promise<void>)[] = [];
  for (const m of MATRICES) {
    const result: MatrixResult = { points: await baseline(m), cases: [], violations: [] };
    results.set(m.title, result);
    jobs.push(() => runCase(m.phase, undefined, undefined, result));
    for (const point of result.points) for (const kind of m.kinds) jobs.push(() => runCase(m.phase, point, kind, result));
  }
  await inPool(jobs, CONCURRENT_WORLDS, (job) => job());
  if (process.env.ROLEGATE_TEST_VERBOSE) {
    for (const [title, r] of results) {
      console.log(`${title}: ${r.points.map(pointLabel).join(' ')}\n${r.cases.map((x) => `  ${x.label}: ${x.first}; ${x.redrives} re-drives → ${x.final}`).join('\n')}`);
    }
  }
}, 180_000);

afterAll(() => {
  iamMock.restore();
  stsMock.restore();
});

const violations = (title: string, category: Category) =>
  results
    .get(title)!
    .violations.filter((v) => v.category === category)
    .map((v) => `${v.case}: ${v.problem}`);

describe.each(MATRICES.map((m) => [m.title, m] as const))('%s', (title, m) => {
  it('injects every kind of fault at every call of a fault-free run', () => {
    const r = results.get(title)!;
    expect(r.points.length).toBeGreaterThan(0);
    expect(r.cases).toHaveLength(1 + r.points.length * m.kinds.length);
    expect(violations(title, 'coverage')).toEqual([]);
  });

  if (provisioning(m.phase)) {
    it('ends every request ACTIVE with its whole role, or FAILED with a reason, never ACTIVE without its role', () => {
      expect(violations(title, 'outcome')).toEqual([]);
    });
  } else {
    it(`ends every request ${m.phase.ends} with its role, identity policy and grant gone, re-driven until it is`, () => {
      expect(violations(title, 'outcome')).toEqual([]);
    });
  }

  it('converges: once settled, running again changes no role, request or grant and writes nothing', () => {
    expect(violations(title, 'convergence')).toEqual([]);
  });

  it('records each transition exactly once in the audit trail, in order, with no duplicate', () => {
    expect(violations(title, 'audit')).toEqual([]);
  });

  it('leaves no role or identity policy letting the principal in beyond its live requests (a FAILED request grants nothing)', () => {
    expect(violations(title, 'leftover')).toEqual([]);
  });

  it('never lets the principal assume a half-built role holding more than its profile allows', () => {
    expect(violations(title, 'overreach')).toEqual([]);
  });
});

it('the in-memory IAM answers like IAM for what the suite relies on', async () => {
  // The fake's own contract: absent entities are NoSuchEntityException, a role with policies cannot be deleted.
  const w = await faultWorld(SETTINGS);
  try {
    const iam = w.aws.iamIn('222222222222');
    await expect(iam.send(new GetRoleCommand({ RoleName: 'nope' }))).rejects.toMatchObject({ name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } });
    await iam.send(new CreateRoleCommand({ RoleName: 'r', Path: '/rolegate/', AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}' }));
    await expect(iam.send(new CreateRoleCommand({ RoleName: 'r', AssumeRolePolicyDocument: '{}' }))).rejects.toMatchObject({ name: 'EntityAlreadyExistsException' });
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'r', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }));
    await expect(iam.send(new DeleteRoleCommand({ RoleName: 'r' }))).rejects.toMatchObject({ name: 'DeleteConflictException' });
    expect(w.aws.role('222222222222', 'r')).toMatchObject({ Arn: 'arn:aws:iam::222222222222:role/rolegate/r', attached: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
  } finally {
    await w.close();
  }
});
