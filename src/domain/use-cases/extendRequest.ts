import { ConflictError, ForbiddenError, NotFoundError, extendsRevokedError } from '../errors';
import type { AccessRequest, Actor } from '../model';
import { parsePrincipalArn, principalFromCallerArn, samePrincipal } from '../principal';
import type { RequestStore } from '../ports';
import { assertNotFrozen, findAccount, notThePerson, ruleFor } from '../rules';
import { TERMINAL } from '../state-machine';
import { addMinutes, isoNow, type CoreDeps } from './context';
import { claimantOfCaller, createRequest, madeUnderKey, type CreateRequestInput } from './createRequest';

/**
 * Asks to prolong live access: a new request, linked to the original,
 * decided under the same rules. Once approved its access starts where the
 * original's ends, so the grant's end moves without a gap, but never reaches
 * further than the rule's maximum from the approval.
 */
export async function extendRequest(
  deps: CoreDeps,
  actor: Actor,
  requestId: string,
  input: { durationMinutes: number; reason: string; idempotencyKey?: string },
): Promise<AccessRequest> {
  const caller = principalFromCallerArn(actor.arn);
  const original = await deps.requests.get(requestId);
  if (!original) throw new NotFoundError(`Request ${requestId} does not exist.`);
  if (!samePrincipal(caller, parsePrincipalArn(original.requester))) {
    throw new ForbiddenError('Only the requester may extend a request.');
  }
  const notThem = notThePerson(original, actor, 'extend');
  if (notThem) throw notThem;
  const intent: CreateRequestInput = {
    account: original.accountId,
    profile: original.profile,
    durationMinutes: input.durationMinutes,
    reason: input.reason,
    ...(original.ticket ? { ticket: original.ticket } : {}),
    ...(original.principalArn !== original.requester ? { principalArn: original.principalArn } : {}),
    extendsRequestId: original.id,
    ...(original.principalSession !== undefined ? { principalSession: original.principalSession } : {}),
    ...(input.idempotencyKey !== undefined ? { idempotencyKey: input.idempotencyKey } : {}),
  };
  // A repeat of an extension already made answers with it, whatever has happened to the original since.
  if (input.idempotencyKey !== undefined) {
    const made = await madeUnderKey(deps, claimantOfCaller(caller.arn, actor), input.idempotencyKey, intent);
    if (made) return made;
  }
  if (original.status !== 'ACTIVE' && original.status !== 'APPROVED') {
    throw new ConflictError(`Only live access can be extended; request ${original.id} is ${original.status}.`, [
      { field: 'status', reason: `is ${original.status}` },
    ]);
  }
  // The request exists (a 404 says it does not): what it was for having left the configuration is a conflict with its state.
  const gone = !deps.settings.accounts.some((a) => a.id === original.accountId)
    ? { field: 'accountId', what: `account ${original.accountId}` }
    : !deps.settings.profiles.some((p) => p.name === original.profile)
      ? { field: 'profile', what: `profile "${original.profile}"` }
      : undefined;
  if (gone) {
    throw new ConflictError(`Request ${original.id} cannot be extended: its ${gone.what} is no longer in rolegate's configuration.`, [
      { field: gone.field, reason: 'is no longer in the configuration' },
    ]);
  }
  // Extended once: a second extension of the same request would start at its end, inside what the first gives,
  // and add nothing; one stacked on the first's end instead would stand on time that revoking the first, which it
  // would not extend, must take away. The extension is extended in turn, so the chain stays one line. One not
  // ended (pending, approved, live, or failed and retryable) holds the request.
  const extension = (await deps.requests.extensionsOf(original.id)).find((e) => !TERMINAL.includes(e.status));
  if (extension) {
    // Made by this very intent in a copy of the call still running when this one read the key (a retry after a
    // timeout): answered with it, as a repeat made later is.
    if (input.idempotencyKey !== undefined) {
      const made = await madeUnderKey(deps, claimantOfCaller(caller.arn, actor), input.idempotencyKey, intent);
      if (made) return made;
    }
    const how =
      extension.status === 'PENDING'
        ? 'extend that one once it is approved, or cancel it'
        : extension.status === 'FAILED'
          ? 'retry it and extend it, or revoke it (it holds nothing) and extend this one'
          : `extend that one (it runs until ${extension.endsAt})`;
    throw new ConflictError(`Request ${original.id} already has extension ${extension.id} (${extension.status}): ${how}. A request is extended once, so revoking an extension takes away everything that extends it.`, [
      { field: 'extendsRequestId', reason: `request ${original.id} already has extension ${extension.id}` },
    ]);
  }
  const account = findAccount(deps.settings, original.accountId);
  const rule = ruleFor(deps.settings, caller, account, original.profile);
  assertNotFrozen(deps.settings, caller, parsePrincipalArn(original.principalArn, 'principalArn'), account);
  // Access (nearly) as far ahead as the rule allows from now: an extension approved now would add less than
  // the shortest access anyone may ask for (seconds, say), yet be recorded, approved and provisioned as one.
  const now = isoNow(deps.clock);
  const shortest = deps.settings.minDurationMinutes;
  if (rule.maxDurationMinutes === shortest) {
    throw new ConflictError(
      `Rule "${rule.id}" allows at most ${rule.maxDurationMinutes} minutes, the shortest access anyone may ask for: an extension could never add time. Ask for new access once request ${original.id} ends.`,
      [{ field: 'durationMinutes', reason: `rule's maximum equals minDurationMinutes (${shortest})` }],
    );
  }
  if (original.endsAt && original.endsAt > addMinutes(now, rule.maxDurationMinutes - shortest)) {
    const from = addMinutes(original.endsAt, shortest - rule.maxDurationMinutes);
    throw new ConflictError(
      `Request ${original.id} already gives access until ${original.endsAt}, and rule "${rule.id}" allows access at most ${rule.maxDurationMinutes} minutes ahead: ` +
        `an extension approved now would add less than ${shortest} minutes. Extend it from ${from}.`,
      [{ field: 'durationMinutes', reason: `access already runs more than ${rule.maxDurationMinutes - shortest} of the rule's ${rule.maxDurationMinutes} minutes ahead` }],
    );
  }
  return createRequest(deps, actor, intent);
}

/**
 * When approved access ends: the duration from now, or, for an extension of
 * access that is still live, the duration from the original's end. Never
 * later than the rule's maximum from the moment of approval, so no approval
 * (and no chain of auto-approved extensions) gives access further ahead than
 * the rule allows. Refused (409) for an extension of a revoked request; the
 * commit that grants it must also pass `unlessRevoked`, since the original
 * may be revoked between this read and that commit.
 */
export async function accessEndFor(requests: RequestStore, request: AccessRequest, now: string, maxMinutes: number): Promise<string> {
  const latest = addMinutes(now, maxMinutes);
  let end = addMinutes(now, request.durationMinutes);
  if (request.extendsRequestId) {
    const original = await requests.get(request.extendsRequestId);
    if (original) refuseIfExtendsRevoked(request, original);
    if (original?.endsAt && (original.status === 'ACTIVE' || original.status === 'APPROVED') && original.endsAt > now) {
      end = addMinutes(original.endsAt, request.durationMinutes);
    }
  }
  return end < latest ? end : latest;
}

/**
 * Revoking a request cancels its pending extensions; this closes the race
 * with one made meanwhile, and keeps a failed extension from being retried
 * into the access that was taken away.
 */
export function refuseIfExtendsRevoked(request: AccessRequest, original: AccessRequest): void {
  if (original.status === 'REVOKED') throw extendsRevokedError(request.id, original.id);
}
