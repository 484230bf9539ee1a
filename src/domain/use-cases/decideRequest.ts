import { actedBy, audit, eventActor } from '../audit';
import { ConflictError, NotFoundError, StaleWriteError } from '../errors';
import type { AccessRequest, Actor, AuditEvent, Decision, DecisionKind } from '../model';
import type { Rule } from '../settings';
import type { RequestWrite } from '../ports';
import { principalFromCallerArn, principalKey, parsePrincipalArn, type Principal } from '../principal';
import { approvalCounts, assertApprovalStands, assertMayDecideOn, isApproverFor, ruleById } from '../rules';
import { accessEndFor } from './extendRequest';
import { assertSees } from './getRequest';
import { announce, enqueueSafely, isoNow, withOptimisticRetry, type CoreDeps } from './context';

export interface DecideInput {
  requestId: string;
  decision: DecisionKind;
  comment?: string;
  /**
   * When the approver gave the decision, if earlier than it is recorded: a
   * Slack click is queued for the worker, and an approval clicked before the
   * decision deadline is weighed as of the click; never later than now, nor
   * more than GIVEN_AT_MAX_LAG_MS before it (a click is taken up within
   * seconds, and a time older than that is no click's).
   */
  givenAt?: string;
}

/** How far back a decision's `givenAt` is taken: the worker's lag, as its iterator-age alarm bounds it. */
export const GIVEN_AT_MAX_LAG_MS = 5 * 60_000;

/**
 * Records an approver's decision. An eligible approver (never the requester
 * or grantee) counts once; the request is APPROVED when the rule's number of
 * distinct approvals is reached, and DENIED by any single deny.
 */
export async function decideRequest(deps: CoreDeps, actor: Actor, input: DecideInput): Promise<AccessRequest> {
  const approver = principalFromCallerArn(actor.arn);
  // The request as a refused write found it (StaleWriteError.found): as exact as a consistent read at that moment, so
  // the next attempt decides on it, refusals included, without reading again.
  let found: AccessRequest | undefined;
  const committed = async (plan: Planned): Promise<Planned> => {
    try {
      await deps.requests.commit(plan.write);
    } catch (e) {
      if (e instanceof StaleWriteError) found = e.found;
      throw e;
    }
    return plan;
  };
  const { next, event } =
    (await decideOnSnapshot(deps, actor, approver, input, committed)) ??
    (await withOptimisticRetry(async () => {
      const current = found ?? (await deps.requests.get(input.requestId));
      if (!current) throw new NotFoundError(`Request ${input.requestId} does not exist.`);
      return committed(await planDecision(deps, actor, approver, input, current));
    }));

  deps.metrics?.count(next.status === 'DENIED' ? 'RequestDenied' : next.status === 'APPROVED' ? 'RequestApproved' : 'ApprovalRecorded');
  if (next.status === 'APPROVED') await enqueueSafely(deps, next.id);
  await announce(deps, next, event);
  return next;
}

/**
 * This process's snapshot of the request saves the read when it lets the
 * decision through and is still exact: the commit conditions on its version.
 * Undefined when there is none, when it would refuse (a refusal is never
 * given on a snapshot: it is decided again on a fresh read) or when it was
 * stale; the decision is then made again at once (a stale snapshot is no sign
 * of contenders to wait out), on the request as the refused write found it.
 */
async function decideOnSnapshot(
  deps: CoreDeps,
  actor: Actor,
  approver: Principal,
  input: DecideInput,
  committed: (plan: Planned) => Promise<Planned>,
): Promise<Planned | undefined> {
  const snapshot = deps.requests.snapshot?.(input.requestId);
  if (!snapshot) return undefined;
  const plan = await planDecision(deps, actor, approver, input, snapshot).catch(() => undefined);
  if (!plan) return undefined;
  return committed(plan).catch((e: unknown) => {
    if (e instanceof StaleWriteError) return undefined;
    throw e;
  });
}

/**
 * The approvals the rule counts now, as an approval or a retry weighs them:
 * an earlier approval by someone it no longer names as an approver (offboarded,
 * distrusted), by a principal frozen since or by one of rolegate's grant
 * roles drops out, with its person (its decision and audit event stay), and
 * the number needed is the rule's if it rose since the request was made.
 */
export async function countedApprovals(deps: CoreDeps, rule: Rule, current: AccessRequest): Promise<{ kept: string[]; keptPersons: string[] | undefined; required: number }> {
  const kept = current.approvals.filter((a) => {
    const approver = parsePrincipalArn(a);
    return isApproverFor(rule, approver) && approvalCounts(deps.settings, approver);
  });
  const keptPersons = kept.length === current.approvals.length ? current.approverPersons : await personsOf(deps, current.id, kept);
  return { kept, keptPersons, required: Math.max(current.approvalsRequired, rule.autoApprove ? 0 : rule.approvalsRequired) };
}

/** The persons of the approvals kept, from their decisions (read only when a rule change dropped some). */
async function personsOf(deps: CoreDeps, requestId: string, kept: string[]): Promise<string[]> {
  const keys = new Set(kept.map((a) => principalKey(parsePrincipalArn(a))));
  const detail = await deps.requests.getDetail(requestId);
  return (detail?.decisions ?? []).flatMap((d) => (d.decision === 'APPROVE' && d.person !== undefined && keys.has(principalKey(parsePrincipalArn(d.approver))) ? [d.person] : []));
}

interface Planned {
  next: AccessRequest;
  event: AuditEvent;
  write: RequestWrite;
}

/** Checks the decision against the request as read and builds the write that records it. */
async function planDecision(
  deps: CoreDeps,
  actor: Actor,
  approver: Principal,
  input: DecideInput,
  current: AccessRequest,
): Promise<Planned> {
  assertSees(deps.settings, current, approver, `${approver.arn} is not an approver under this request's rule.`);
  const rule = ruleById(deps.settings, current.ruleId);
  // Who may decide first (403, and nothing said of the request's state to anyone else), then its state (409), then,
  // for an approval, what the configuration lets stand: the rule still covers and governs the request as made, the
  // approver is not frozen. A deny stands whatever the configuration became.
  assertMayDecideOn(deps.settings, rule, current, approver, actor.person);
  if (current.status !== 'PENDING') {
    throw new ConflictError(`Request ${current.id} is no longer pending: it is ${current.status}.`, [
      { field: 'status', reason: `is ${current.status}` },
    ]);
  }
  if (input.decision === 'APPROVE') assertApprovalStands(deps.settings, rule, current, approver);
  const mine = principalKey(approver);
  if (current.approvals.some((a) => principalKey(parsePrincipalArn(a)) === mine)) {
    throw new ConflictError(`${approver.arn} has already approved request ${current.id}.`, [{ field: 'approvals', reason: 'already include the caller' }]);
  }
  // The rule as it stands now counts the approvals, and asks for more if it asks more than it did.
  const { kept, keptPersons, required: approvalsRequired } = await countedApprovals(deps, rule, current);
  // One person counts once, whichever role they approve through.
  if (actor.person !== undefined && keptPersons?.includes(actor.person)) {
    throw new ConflictError(`${actor.person} has already approved request ${current.id}, signed in through another role.`, [
      { field: 'approverPersons', reason: 'already include the caller' },
    ]);
  }
  const now = isoNow(deps.clock);
  // Past its deadline a request is timing out (the sweeper runs every minute): too late to approve. Given before
  // it (a click the worker took up later), in time: the request is still pending, or the status check refused it.
  const givenAt = input.givenAt !== undefined && input.givenAt < now && Date.parse(input.givenAt) >= Date.parse(now) - GIVEN_AT_MAX_LAG_MS ? input.givenAt : now;
  if (input.decision === 'APPROVE' && givenAt >= current.decisionDeadline) {
    throw new ConflictError(`Request ${current.id} passed its decision deadline (${current.decisionDeadline}); it is timing out. Ask the requester to request again.`, [
      { field: 'decisionDeadline', reason: 'has passed' },
    ]);
  }

  const decision: Decision = {
    requestId: current.id,
    approver: approver.arn,
    decision: input.decision,
    at: now,
    ...(actor.person !== undefined ? { person: actor.person } : {}),
    via: actor.via === 'slack' ? 'slack' : 'api',
    ...(input.comment !== undefined ? { comment: input.comment } : {}),
  };
  const base = { ...current, version: current.version + 1, updatedAt: now };
  const eventInput = { id: deps.ids.next(), at: now, ...actedBy(eventActor(approver.arn, actor)), ...(input.comment !== undefined ? { comment: input.comment } : {}) };

  let next: AccessRequest;
  let event: AuditEvent;
  if (input.decision === 'DENY') {
    next = { ...base, status: 'DENIED', endedAt: now };
    event = audit.denied(next, { ...eventInput, notify: 'request.denied' });
  } else {
    const approvals = [...kept, approver.arn];
    const allPersons = [...(keptPersons ?? []), ...(actor.person !== undefined ? [actor.person] : [])];
    const persons = allPersons.length > 0 || current.approverPersons !== undefined ? { approverPersons: allPersons } : {};
    const tally = { approvals: approvals.length, required: approvalsRequired };
    if (approvals.length >= approvalsRequired) {
      next = { ...base, approvals, ...persons, approvalsRequired, status: 'APPROVED', approvedAt: now, endsAt: await accessEndFor(deps.requests, current, now, rule.maxDurationMinutes), provisioningAttempts: 0 };
      event = audit.approved(next, { ...eventInput, data: tally, notify: 'request.approved' });
    } else {
      next = { ...base, approvals, ...persons, approvalsRequired };
      event = audit.approvalRecorded(next, { ...eventInput, data: tally, notify: 'request.approval_recorded' });
    }
  }
  const granting = next.status === 'APPROVED' && current.extendsRequestId !== undefined;
  const write: RequestWrite = { request: next, expectedVersion: current.version, decision, events: [event], ...(granting ? { unlessRevoked: current.extendsRequestId } : {}) };
  return { next, event, write };
}
