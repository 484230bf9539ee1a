import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from './errors';
import { ruleNames } from './rule-names';
import type { AccessRequest, Actor } from './model';
import { arnMatches, isAccountId, isIdentityCenterRole, matchesAny, parsePrincipalArn, samePrincipal, type Principal } from './principal';
import { GRANT_ROLE_NAME, ROLE_NAME_PREFIX } from './provisioning/role-name';
import type { AccountSettings, Profile, Rule, Settings } from './settings';

/** Finds an account by 12-digit id or by alias; unknown → NotFoundError. */
export function findAccount(settings: Settings, idOrAlias: string): AccountSettings {
  const account = settings.accounts.find((a) => a.id === idOrAlias || a.alias === idOrAlias);
  if (!account) {
    throw new NotFoundError(
      isAccountId(idOrAlias) ? `Account ${idOrAlias} is not managed by rolegate.` : `No account has the alias "${idOrAlias}".`,
    );
  }
  return account;
}

export function findProfile(settings: Settings, name: string): Profile {
  const profile = settings.profiles.find((p) => p.name === name);
  if (!profile) {
    // Names are case-sensitive (they name IAM policies and roles): a near miss is told so, without naming what it missed.
    const caseOnly = settings.profiles.some((p) => p.name.toLowerCase() === name.toLowerCase());
    throw new NotFoundError(`No access profile is named "${name}".${caseOnly ? ' Profile names are case-sensitive: `rolegate catalog` lists yours.' : ''}`);
  }
  return profile;
}

function ruleCovers(rule: Rule, account: AccountSettings, profile: string): boolean {
  return ruleNames(rule.accounts, account.id, account.alias) && ruleNames(rule.profiles, profile);
}

/**
 * The rule that governs a caller asking for a profile in an account: the
 * first rule, in file order, that names the caller as a requester and covers
 * the account and profile. None → the caller may not request it (403),
 * naming the account as the caller gave it (`asGiven`): an account outside
 * the caller's catalog does not reveal its id for its alias, or the reverse.
 */
export function ruleFor(settings: Settings, caller: Principal, account: AccountSettings, profile: string, asGiven?: string): Rule {
  const rule = governingRule(settings, caller, account, profile);
  if (!rule) throw noRuleLets(caller, profile, asGiven ?? `${account.alias} (${account.id})`);
  if (rule.inAnotherCase) {
    throw new ForbiddenError(
      `Rule "${rule.id}" names ${caller.arn} as a requester only in another case. ARN patterns match case-sensitively, as IAM's do, and a later rule does not govern in its place: ` +
        `an administrator must write the pattern in the case IAM shows.`,
    );
  }
  return rule;
}

/**
 * The first rule, in file order, that covers the account and profile and
 * names the caller as a requester; marked `inAnotherCase` when its pattern
 * names the caller only in another case (patterns match case-sensitively,
 * arnMatches). Such a rule is not skipped: an earlier rule is often the
 * stricter one, and a typo in its case must not hand its requesters to a
 * looser rule after it.
 */
function governingRule(settings: Settings, caller: Principal, account: AccountSettings, profile: string): (Rule & { inAnotherCase?: true }) | undefined {
  for (const rule of settings.rules) {
    if (!ruleCovers(rule, account, profile)) continue;
    if (matchesAny(caller, rule.requesters)) return rule;
    if (matchesAny(caller, rule.requesters, { anyCase: true })) return { ...rule, inAnotherCase: true };
  }
  return undefined;
}

/**
 * Refuses a caller that no rule names as a requester, before the account
 * and profile it asked for are looked up: with the same 403 a managed
 * account outside its rules gets, so it cannot tell which accounts and
 * profiles rolegate manages from the answers (a requester's catalog lists
 * what its own rules cover).
 */
export function assertNamedAsRequester(settings: Settings, caller: Principal, profile: string, account: string): void {
  if (!settings.rules.some((r) => matchesAny(caller, r.requesters))) throw noRuleLets(caller, profile, account);
}

function noRuleLets(caller: Principal, profile: string, account: string): ForbiddenError {
  // An Identity Center role no rolePaths entry placed is taken to be at `/`, which path-anchored patterns never match.
  const unplaced = isIdentityCenterRole(caller) && caller.path === '/' ? ' Identity Center roles live under /aws-reserved/sso.amazonaws.com/: without a rolePaths entry for this one, rolegate took it to be at /.' : '';
  return new ForbiddenError(`No rule lets ${caller.arn} request profile "${profile}" in account ${account}.${unplaced}`);
}

/**
 * Whether an earlier pattern admits every principal a later one does. The
 * later pattern's text is read as an ARN, its `*` as a run of characters the
 * earlier one must allow too; an earlier `?` stands for one character only, so
 * against a later wildcard it is not counted as covering (a warning never
 * claims more than holds).
 */
function patternCovers(earlier: string, later: string): boolean {
  if (earlier.includes('?') && /[*?]/.test(later)) return false;
  return arnMatches(later, earlier);
}

/**
 * Rules that can never govern a request: for each account and profile the
 * rule covers, an earlier rule names every requester it names (first rule in
 * file order wins, see ruleFor). Usually an ordering mistake: a narrower,
 * stricter rule placed after a broad one. `by` names the earlier rules.
 */
export function shadowedRules(settings: Settings): { rule: string; by: string[] }[] {
  const shadowed: { rule: string; by: string[] }[] = [];
  settings.rules.forEach((rule, i) => {
    const earlier = settings.rules.slice(0, i).filter((e) => rule.requesters.every((later) => e.requesters.some((p) => patternCovers(p, later))));
    const by = new Set<string>();
    const pairs = settings.accounts.flatMap((a) => settings.profiles.map((p) => [a, p.name] as const)).filter(([a, p]) => ruleCovers(rule, a, p));
    const allTaken = pairs.length > 0 && pairs.every(([a, p]) => {
      const first = earlier.find((e) => ruleCovers(e, a, p));
      if (first) by.add(first.id);
      return first !== undefined;
    });
    if (allTaken) shadowed.push({ rule: rule.id, by: [...by] });
  });
  return shadowed;
}

/**
 * Whether assuming the role will ask for MFA: where the profile requires it
 * and the grantee is an IAM user. A role's session (Identity Center, a
 * workload) cannot present MFA to a trust policy, so none is asked of it.
 */
export function mfaRequired(profile: Pick<Profile, 'requireMfa'>, grantee: Pick<Principal, 'type'>): boolean {
  return profile.requireMfa && grantee.type === 'user';
}

export function ruleById(settings: Settings, id: string): Rule {
  const rule = settings.rules.find((r) => r.id === id);
  // A request whose rule was removed from the configuration can no longer be decided.
  if (!rule) throw new ForbiddenError(`The rule "${id}" that governed this request is no longer configured.`);
  return rule;
}

/**
 * Who receives access. By default the caller; another principal only when
 * the rule lists it under workloadPrincipals (an application owner asking
 * for a workload role), and never an account root or a wildcard.
 */
export function resolveGrantee(rule: Rule, caller: Principal, principalArn: string | undefined): Principal {
  if (principalArn === undefined) return caller;
  const target = parsePrincipalArn(principalArn, 'principalArn');
  if (samePrincipal(target, caller)) return caller;
  if (!matchesAny(target, rule.workloadPrincipals)) {
    throw new ForbiddenError(`Rule "${rule.id}" does not let ${caller.arn} request access for ${target.arn}.`, [
      { field: 'principalArn', reason: 'not one of the rule\'s workloadPrincipals' },
    ]);
  }
  return target;
}

/** STS keeps at most 64 characters of a session name; Identity Center user names may be longer. */
const MAX_SESSION_NAME = 64;

/**
 * A new request's personal-grant pin (provisioner.personalGrants): an
 * Identity Center sign-in asking for its own role gets a role only its own
 * sessions may assume. A workload principal, an IAM user or another role is
 * granted whole. Fails closed: with the setting on, a request for an
 * Identity Center role whose sign-in names no session (Slack, OIDC) is
 * refused, never granted to the whole permission set.
 */
export function personalPin(settings: Settings, actor: Pick<Actor, 'sessionName'>, caller: Principal, grantee: Principal): { principalSession?: string } {
  // The same test as grantLocationFor's: a grantee other than the requester is a workload, never pinned.
  if (!settings.provisioner.personalGrants || grantee.arn !== caller.arn) return {};
  if (actor.sessionName !== undefined && actor.sessionName.length >= MAX_SESSION_NAME) {
    // Fails closed: a trust pinned to a cut name would admit every user whose name starts the same.
    throw new ForbiddenError(
      `Personal grants are on, and this sign-in's session name is ${MAX_SESSION_NAME} characters, the most STS keeps: it may be a longer Identity Center user name cut short, which another user's could share, so no grant is pinned to it. Ask an administrator for a shorter user name.`,
      [{ field: 'caller', reason: `session name is ${MAX_SESSION_NAME} characters (possibly cut short)` }],
    );
  }
  if (actor.sessionName !== undefined) return { principalSession: actor.sessionName };
  if (!isIdentityCenterRole(caller)) return {};
  throw new ForbiddenError(
    `Personal grants are on: access for Identity Center role ${caller.arn} is granted to one user's sessions of it, and this sign-in names no session name rolegate can pin. ` +
      `Ask through the API signed in as yourself through Identity Center (the CLI with your SSO profile), or through Slack once your slack.users entry names your session (assumed-role/<role>/<user name>); OIDC cannot name it.`,
    [{ field: 'caller', reason: 'names no Identity Center session' }],
  );
}

/**
 * Why the caller may not act as the requester of a personal grant, or
 * undefined: extending or retrying gives access, which on a personal grant
 * is the person's alone. Ending it (cancel, revoke) stays with everyone who
 * signs in as the requester's principal.
 */
export function notThePerson(request: Pick<AccessRequest, 'id' | 'principalSession'>, actor: Pick<Actor, 'sessionName'>, verb: string): ForbiddenError | undefined {
  if (request.principalSession === undefined || actor.sessionName === request.principalSession) return undefined;
  return new ForbiddenError(`Request ${request.id} is a personal grant of ${request.principalSession}: only they may ${verb} it, signed in as themselves through Identity Center.`, [
    { field: 'caller', reason: `is not ${request.principalSession}'s session` },
  ]);
}

/**
 * A retry approves access afresh, so under personal grants as they are now:
 * a request for the requester's own Identity Center role made before they
 * were switched on (no pin) would be granted to the whole permission set
 * again, and a FAILED request never expires. Refused (409); an extension
 * keeps its original's role, pinned or not, as it prolongs it.
 */
export function assertStillPersonal(settings: Settings, request: AccessRequest): void {
  if (!settings.provisioner.personalGrants || request.principalSession !== undefined || request.extendsRequestId !== undefined) return;
  if (request.principalArn !== request.requester || !isIdentityCenterRole(parsePrincipalArn(request.principalArn))) return;
  throw new ConflictError(
    `Request ${request.id} was made before personal grants were switched on, for everyone of Identity Center role ${request.principalArn}; a retry would grant that afresh. Make a new request: it will be yours alone.`,
    [{ field: 'principalSession', reason: 'is absent: made before personal grants' }],
  );
}

/**
 * A request as its rule stands now, before access is approved or retried:
 * the rule still names the requester, still covers the account and profile,
 * still governs them (no earlier rule took them over: a stricter rule put
 * first must not be passed by the looser one's pending or failed requests),
 * and still admits the grantee. A configuration change that took any of it
 * away refuses the approval (403), which is then for a new request to ask.
 */
export function assertRuleStillCovers(settings: Settings, rule: Rule, request: AccessRequest): void {
  const requester = parsePrincipalArn(request.requester, 'requester');
  const account = settings.accounts.find((a) => a.id === request.accountId);
  // A rule over every profile ('*') still covers only the profiles that exist.
  const profileExists = settings.profiles.some((p) => p.name === request.profile);
  if (!account || !profileExists || !matchesAny(requester, rule.requesters) || !ruleCovers(rule, account, request.profile)) {
    throw new ForbiddenError(
      `Rule "${rule.id}" no longer lets ${requester.arn} request profile "${request.profile}" in account ${request.accountAlias} (${request.accountId}): the configuration changed since request ${request.id} was made. Make a new request.`,
    );
  }
  // The first rule that names the requester and covers the request governs it, as it would a new request.
  const governing = ruleFor(settings, requester, account, request.profile);
  if (governing.id !== rule.id) {
    throw new ForbiddenError(
      `Rule "${governing.id}" now governs profile "${request.profile}" in account ${request.accountAlias} (${request.accountId}) for ${requester.arn}, ahead of rule "${rule.id}" that request ${request.id} was made under: the configuration changed since. Make a new request.`,
    );
  }
  if (request.principalArn !== request.requester) resolveGrantee(rule, requester, request.principalArn);
  const grantee = parsePrincipalArn(request.principalArn, 'principalArn');
  // Made before rolegate refused its own grant roles as requesters and grantees.
  assertNotGrantRole(settings, requester, 'request access');
  assertNotGrantRole(settings, grantee, 'be given access');
  assertNotFrozen(settings, requester, grantee, account);
}

/**
 * Refuses (403) new access the configuration's `freeze` stops: by or for a
 * frozen principal, or in a frozen account. Checked where access is asked
 * for, approved, retried and provisioned.
 */
export function assertNotFrozen(settings: Settings, requester: Principal, grantee: Principal, account: AccountSettings): void {
  const { freeze } = settings;
  const who = [requester, grantee].find((p) => isFrozen(settings, p));
  if (who) throw new ForbiddenError(`New access for ${who.arn} is frozen by the configuration (freeze.principals): nothing is granted until it is lifted.`);
  if (ruleNames(freeze.accounts, account.id, account.alias)) {
    throw new ForbiddenError(`New access to account ${account.alias} (${account.id}) is frozen by the configuration (freeze.accounts): nothing is granted until it is lifted.`);
  }
}

/** Whether the configuration's freeze names this principal (what it may still do: deny, cancel, revoke). */
export function isFrozen(settings: Settings, who: Principal): boolean {
  return matchesAny(who, settings.freeze.principals, { anyCase: true });
}

/**
 * Refuses (403) an approval, or a retry (an approval afresh), by a frozen
 * principal: the freeze is what an incident puts on a principal whose
 * credentials may be someone else's, approvers included.
 */
export function assertMayApprove(settings: Settings, who: Principal): void {
  if (isFrozen(settings, who)) {
    throw new ForbiddenError(`${who.arn} is frozen by the configuration (freeze.principals): it approves nothing until the freeze is lifted (it may still deny, cancel and revoke).`);
  }
}

/**
 * Whether a principal is one of the roles rolegate grants (a name of the
 * shape it derives, `rg-…-<8 hex>`, in an account it manages). Its sessions
 * are whoever holds that grant: the requester, signed in through the access
 * rolegate gave them, could otherwise decide on their own request where
 * approver patterns reach roles (`role/*`), or request more access as the
 * grant role.
 */
export function isGrantRole(settings: Settings, who: Principal): boolean {
  return who.type === 'role' && GRANT_ROLE_NAME.test(who.name) && settings.accounts.some((a) => a.id === who.accountId);
}

/** Refuses (403) one of rolegate's own grant roles as requester, grantee or approver. */
export function assertNotGrantRole(settings: Settings, who: Principal, what: string): void {
  if (isGrantRole(settings, who)) {
    throw new ForbiddenError(
      `${who.arn} is a role rolegate grants (${ROLE_NAME_PREFIX}… in account ${who.accountId}): its sessions are whoever holds that grant, so it may not ${what}. Sign in as yourself.`,
    );
  }
}

/**
 * Why an approved request must not be provisioned for its approvals: one was
 * given by a principal frozen since (its credentials may not have been its
 * own). Undefined when none was. A retry counts the approvals without it.
 */
export function frozenApproval(settings: Settings, request: AccessRequest): string | undefined {
  const frozen = request.approvals.find((a) => isFrozen(settings, parsePrincipalArn(a)));
  if (frozen !== undefined) {
    return `Request ${request.id} was approved by ${frozen}, frozen since by the configuration (freeze.principals): nothing was granted. A retry counts its approvals without the frozen one; or make a new request.`;
  }
  const grantRole = request.approvals.find((a) => isGrantRole(settings, parsePrincipalArn(a)));
  if (grantRole !== undefined) {
    return `Request ${request.id} was approved by ${grantRole}, a role rolegate grants, whose sessions are whoever holds that grant: nothing was granted. A retry counts its approvals without it; or make a new request.`;
  }
  return undefined;
}

/**
 * Refuses (403) an approval of this request by this caller on what the
 * request and the configuration say, before any tally: a grant role, the
 * requester or grantee (or their person), one the rule does not name, a rule
 * that no longer covers or governs the request, a frozen approver. The
 * decision path runs it for an approval; the awaiting view offers only the
 * requests it lets through.
 */
export function assertMayApproveRequest(settings: Settings, rule: Rule, request: AccessRequest, who: Principal, person?: string): void {
  assertMayDecideOn(settings, rule, request, who, person);
  assertApprovalStands(settings, rule, request, who);
}

/**
 * Refuses (403) a decision either way by one who may not give it: a grant role
 * (whoever holds a grant could otherwise decide through it, where approver
 * patterns reach roles), the requester or grantee (or their person), one the
 * rule does not name.
 */
export function assertMayDecideOn(settings: Settings, rule: Rule, request: AccessRequest, who: Principal, person?: string): void {
  assertNotGrantRole(settings, who, 'decide on a request');
  assertMayDecide(rule, request, who, person);
}

/** Refuses (403) an approval the configuration no longer lets stand: a rule that no longer covers or governs the request, a frozen approver. */
export function assertApprovalStands(settings: Settings, rule: Rule, request: AccessRequest, who: Principal): void {
  assertRuleStillCovers(settings, rule, request);
  assertMayApprove(settings, who);
}

/** Whether an approval counts now: its approver neither frozen nor one of rolegate's grant roles. */
export function approvalCounts(settings: Settings, approver: Principal): boolean {
  return !isFrozen(settings, approver) && !isGrantRole(settings, approver);
}

/** The duration must lie between the minimum (15 minutes by default) and the rule's maximum. */
export function checkDuration(settings: Settings, rule: Rule, minutes: number): void {
  if (minutes < settings.minDurationMinutes) {
    throw new ValidationError(`The duration must be at least ${settings.minDurationMinutes} minutes.`, [
      { field: 'durationMinutes', reason: `below the minimum of ${settings.minDurationMinutes}` },
    ]);
  }
  if (minutes > rule.maxDurationMinutes) {
    throw new ForbiddenError(`Rule "${rule.id}" allows at most ${rule.maxDurationMinutes} minutes.`, [
      { field: 'durationMinutes', reason: `above the rule's maximum of ${rule.maxDurationMinutes}` },
    ]);
  }
}

/** True when the principal is an approver under the rule (patterns only; self-approval is refused separately). */
export function isApproverFor(rule: Rule, who: Principal): boolean {
  return matchesAny(who, rule.approvers);
}

/**
 * Who sees and may revoke a request as an approver: one under its rule. A
 * rule taken out of the configuration (to stop new requests, say) must not
 * leave its live access beyond an approver's reach, so then the approvers who
 * approved the request see it and may revoke it, and so, while it is live,
 * do those of any rule that now covers its account and profile.
 */
export function approvesFor(settings: Settings, request: AccessRequest, who: Principal): boolean {
  const rule = settings.rules.find((r) => r.id === request.ruleId);
  if (rule) return isApproverFor(rule, who);
  if (request.approvals.some((a) => samePrincipal(who, parsePrincipalArn(a)))) return true;
  // Others' approvers reach it only while it gives access, to revoke it: never the rule's past requests.
  if (request.status !== 'APPROVED' && request.status !== 'ACTIVE') return false;
  const account = settings.accounts.find((a) => a.id === request.accountId);
  return account !== undefined && settings.rules.some((r) => ruleCovers(r, account, request.profile) && isApproverFor(r, who));
}

/**
 * An approver may decide only under the request's rule, never on their own
 * request (requester or grantee), compared as IAM compares identities, nor
 * as the person who asked (`person`, when both sign-ins named one).
 */
export function assertMayDecide(rule: Rule, request: AccessRequest, who: Principal, person?: string): void {
  const requester = parsePrincipalArn(request.requester, 'requester');
  const grantee = parsePrincipalArn(request.principalArn, 'principalArn');
  if (samePrincipal(who, requester) || samePrincipal(who, grantee)) {
    throw new ForbiddenError('Nobody may decide on their own request.');
  }
  // The same person through another role (another permission set, another account).
  if (person !== undefined && person === request.requesterPerson) {
    throw new ForbiddenError(`Nobody may decide on their own request: ${person} asked for it, signed in through another role.`);
  }
  if (!isApproverFor(rule, who)) {
    throw new ForbiddenError(`${who.arn} is not an approver under rule "${rule.id}".`);
  }
}

export interface CatalogEntry {
  accountId: string;
  accountAlias: string;
  accountName?: string;
  profile: string;
  description: string;
  maxDurationMinutes: number;
  approvers: string[];
  approvalsRequired: number;
  autoApprove: boolean;
  requireMfa: boolean;
  rule: string;
}

/** Every account × profile the caller may request, with the governing rule's limits and approvers. */
export function catalogFor(settings: Settings, caller: Principal): CatalogEntry[] {
  const entries: CatalogEntry[] = [];
  for (const account of settings.accounts) {
    for (const profile of settings.profiles) {
      const rule = governingRule(settings, caller, account, profile.name);
      // One named only in another case governs nothing (ruleFor refuses it), so it offers nothing either.
      if (!rule || rule.inAnotherCase) continue;
      entries.push({
        accountId: account.id,
        accountAlias: account.alias,
        ...(account.name ? { accountName: account.name } : {}),
        profile: profile.name,
        description: profile.description,
        maxDurationMinutes: rule.maxDurationMinutes,
        approvers: rule.autoApprove ? [] : rule.approvers,
        approvalsRequired: rule.autoApprove ? 0 : rule.approvalsRequired,
        autoApprove: rule.autoApprove,
        // Of the caller, the grantee of a request for themselves.
        requireMfa: mfaRequired(profile, caller),
        rule: rule.id,
      });
    }
  }
  return entries;
}
