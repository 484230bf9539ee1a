import { ProvisioningError } from '../errors';
import type { GrantSpec } from '../ports';
import type { Principal } from '../principal';
import { mfaRequired } from '../rules';
import { ACCESS_ENDS_SID } from './access-ends';
import { accessEndsStatement, INLINE_POLICY_MAX_CHARS, inlinePolicyProblem, managedPoliciesProblem, MAX_MANAGED_POLICIES, policySize } from './policy-limits';
import { MAX_PATH_AND_NAME, ROLE_PATH } from './role-name';

export { accessEndsStatement, INLINE_POLICY_MAX_CHARS, policySize } from './policy-limits';

/*
 * The IAM documents for a grant, built as plain objects from validated
 * values only, and checked against IAM's rules and limits before anything is
 * sent: a violation becomes a ProvisioningError naming the limit and the
 * actual size, not an AWS error after half the calls were made.
 */

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Record<string, unknown>[];
}

export interface Tag {
  Key: string;
  Value: string;
}

export const MANAGED_TAG = { Key: 'managed-by', Value: 'rolegate' } as const;
export const TAG_KEYS = {
  grantKey: 'rolegate:grant-key',
  requests: 'rolegate:requests',
  profile: 'rolegate:profile',
  principal: 'rolegate:principal',
  endsAt: 'rolegate:ends-at',
} as const;
export const INLINE_POLICY_NAME = 'rolegate-profile';

/** IAM's default trust-policy quota; accounts may have it raised (AccountSettings.trustPolicyMaxChars). */
export const DEFAULT_TRUST_POLICY_MAX_CHARS = 2048;
export const TAG_VALUE_MAX = 256;
const TAG_KEY_MAX = 128;
const MAX_TAGS = 50;
const DESCRIPTION_MAX = 1000;

// IAM's published patterns (API reference: Tag, CreateRole).
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const NOT_TAG_CHAR = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;
const DESCRIPTION_CHARS = /^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const ROLE_PATH_CHARS = /^\/(?:[\w+=,.@-]+\/)*$/;
// Exactly one IAM user or role: no wildcard, no account root, no other principal kind.
const USER_ID_KEY = 'aws:userid';
/** What a personal grant's pin may hold: any role id, then one session name, never a wildcard in it. */
const PINNED_USER_ID = /^\*:[\w+=,.@-]{2,64}$/;
const TRUSTED_ARN = /^arn:aws[a-z-]*:iam::\d{12}:(?:user|role)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

export interface DesiredRole {
  roleName: string;
  path: string;
  roleArn: string;
  trustPolicy: PolicyDocument;
  /** Sorted, so comparisons and plans do not depend on configuration order. */
  managedPolicyArns: string[];
  /** The profile's own statements, if any, and the statement that ends the access (accessEndsStatement). */
  inlinePolicy: PolicyDocument;
  inlinePolicyName: string;
  permissionsBoundaryArn?: string;
  maxSessionDuration: number;
  description: string;
  tags: Tag[];
}

export interface DocumentLimits {
  /** The account's trust-policy quota (default 2,048 characters without whitespace). */
  trustPolicyMaxChars?: number;
  /** The account's managed-policies-per-role quota (a grant recorded before rolegate kept it: IAM's ceiling, 20). */
  managedPoliciesPerRoleMax?: number;
}

/**
 * Trust: exactly the grantee may assume the role, only until the grant's
 * end (IAM refuses it afterwards even if the sweeper is late), with MFA for
 * people where the profile asks for it, the ExternalId where the rule sets
 * one for workload principals, and, for a personal grant, only the
 * principal role's sessions of one name: `aws:userid` of a role session is
 * `<role id>:<session name>`, and a session name holds no `:`, `*` or `?`,
 * so `*:<name>` matches that name exactly.
 */
export function trustPolicy(spec: Pick<GrantSpec, 'principal' | 'profile' | 'endsAt' | 'externalId' | 'session'>): PolicyDocument {
  const condition: Record<string, Record<string, string>> = { DateLessThan: { 'aws:CurrentTime': spec.endsAt } };
  if (mfaRequired(spec.profile, spec.principal)) condition.Bool = { 'aws:MultiFactorAuthPresent': 'true' };
  if (spec.externalId) condition.StringEquals = { 'sts:ExternalId': spec.externalId };
  if (spec.session !== undefined) condition.StringLike = { [USER_ID_KEY]: `*:${spec.session}` };
  condition[SOURCE_IDENTITY_PIN.operator] = { [SOURCE_IDENTITY_PIN.key]: SOURCE_IDENTITY_PIN.carried };
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'RolegateGrant', Effect: 'Allow', Principal: { AWS: spec.principal.arn }, Action: [...ASSUME_ACTIONS], Condition: condition }],
  };
}

/**
 * What a grantee may do with a grant role's trust, and in the identity
 * account's policy: assume it, carrying the source identity its session
 * already has. STS asks for `sts:SetSourceIdentity` on both sides whenever
 * the caller's session carries one (set at sign-in through SAML or OIDC,
 * or earlier in a role chain), even when the call passes none: without it
 * such people could not use their grants.
 */
export const ASSUME_ACTIONS = ['sts:AssumeRole', 'sts:SetSourceIdentity'] as const;

/**
 * The trust's source-identity pin: a source identity in the call must be
 * the one the caller's session already carries. A session without one may
 * not set one at the grant role (the variable of an absent key matches
 * nothing); a call that sets none passes (IfExists), and STS itself
 * refuses to change a source identity once set. The value carried is only
 * as good as where it was first set (an identity provider, an earlier
 * role): rolegate passes it on, it does not vouch for it.
 */
export const SOURCE_IDENTITY_PIN = { operator: 'StringEqualsIfExists', key: 'sts:SourceIdentity', carried: '${aws:SourceIdentity}' } as const;

/**
 * The trust as rolegate wrote it before it allowed source identities (the
 * same, with `sts:AssumeRole` alone and no pin): it only admits fewer
 * sessions than the desired one, so a live role still holding it is no
 * drift; the next write to the grant brings it up to date.
 */
export function trustBeforeSourceIdentity(trust: PolicyDocument): PolicyDocument {
  const { operator, key } = SOURCE_IDENTITY_PIN;
  return {
    ...trust,
    Statement: trust.Statement.map((st) => {
      // rolegate's own statement, the Allow: a Deny beside it (a responder's) is as it is.
      if (st.Effect !== 'Allow') return st;
      // The pin's key only: any other condition under the same operator stays, as do all the others.
      const { [operator]: under, ...others } = (st.Condition ?? {}) as Record<string, Record<string, unknown> | undefined>;
      const { [key]: _pin, ...rest } = under ?? {};
      return { ...st, Action: 'sts:AssumeRole', Condition: Object.keys(rest).length > 0 ? { ...others, [operator]: rest } : others };
    }),
  };
}

export { ACCESS_ENDS_SID };

/**
 * Denies everything once the grant's end has passed. The trust's end stops
 * new sessions; this stops the sessions issued before it, at the end
 * exactly, even if the sweeper that deletes the role is late or failing.
 */
/** The role's inline policy: the profile's statements, then the end of access. */
export function roleInlinePolicy(spec: Pick<GrantSpec, 'profile' | 'endsAt'>): PolicyDocument {
  const own = spec.profile.inlinePolicy ? statementsOf(spec.profile.inlinePolicy, "profile's inline policy") : [];
  return { Version: '2012-10-17', Statement: [...own, accessEndsStatement(spec.endsAt)] };
}

/** Identity side: the principal may assume exactly this role (its source identity carried: the trust pins it), and only until the end. */
export function identityPolicy(roleArn: string, endsAt: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'RolegateAssume', Effect: 'Allow', Action: [...ASSUME_ACTIONS], Resource: roleArn, Condition: { DateLessThan: { 'aws:CurrentTime': endsAt } } }],
  };
}

/** `arn:<partition>:iam::<account>:role/rolegate/<name>`. */
export function roleArnFor(spec: Pick<GrantSpec, 'partition' | 'account' | 'roleName'>): string {
  return `arn:${spec.partition}:iam::${spec.account.id}:role${ROLE_PATH}${spec.roleName}`;
}

/** A tag value IAM accepts: characters outside its pattern become `_`, cut at 256. */
export function tagValue(value: string): string {
  return value.replace(NOT_TAG_CHAR, '_').slice(0, TAG_VALUE_MAX);
}

/**
 * The request ids covering the grant, space-separated, within one tag
 * value's 256 characters: when they do not fit, the oldest are dropped and
 * counted (`+3 01J… 01J…`); the grant item in the store is the full record.
 */
export function requestsTagValue(requestIds: readonly string[]): string {
  const ids = requestIds.map(tagValue);
  for (let dropped = 0; dropped <= ids.length; dropped++) {
    const kept = ids.slice(dropped);
    const value = (dropped ? [`+${dropped}`, ...kept] : kept).join(' ');
    if (value.length <= TAG_VALUE_MAX) return value;
  }
  return `+${ids.length}`;
}

/** The principal's ARN, or without its path when a long path would not fit a tag value. */
function principalTagValue(p: Principal): string {
  const arn = p.arn.length <= TAG_VALUE_MAX ? p.arn : `arn:${p.partition}:iam::${p.accountId}:${p.type}/${p.name}`;
  return tagValue(arn);
}

/** The role as it should be, validated against IAM's rules and limits (throws ProvisioningError). */
export function desiredRole(spec: GrantSpec): DesiredRole {
  const desired: DesiredRole = {
    roleName: spec.roleName,
    path: ROLE_PATH,
    roleArn: roleArnFor(spec),
    trustPolicy: trustPolicy(spec),
    managedPolicyArns: [...new Set(spec.profile.managedPolicyArns)].sort(),
    inlinePolicy: roleInlinePolicy(spec),
    inlinePolicyName: INLINE_POLICY_NAME,
    ...(spec.profile.permissionsBoundaryArn ? { permissionsBoundaryArn: spec.profile.permissionsBoundaryArn } : {}),
    maxSessionDuration: spec.profile.maxSessionDurationSeconds,
    description: `rolegate grant: ${spec.profile.name} for ${spec.principal.arn}${spec.session !== undefined ? ` as ${spec.session}` : ''}`.slice(0, DESCRIPTION_MAX),
    tags: [
      { ...MANAGED_TAG },
      { Key: TAG_KEYS.grantKey, Value: tagValue(spec.grantKey) },
      { Key: TAG_KEYS.profile, Value: tagValue(spec.profile.name) },
      { Key: TAG_KEYS.principal, Value: principalTagValue(spec.principal) },
      { Key: TAG_KEYS.requests, Value: requestsTagValue(spec.requestIds) },
      { Key: TAG_KEYS.endsAt, Value: tagValue(spec.endsAt) },
    ],
  };
  validateDocuments(desired, { trustPolicyMaxChars: spec.account.trustPolicyMaxChars, managedPoliciesPerRoleMax: spec.account.managedPoliciesPerRoleMax });
  return desired;
}

function fail(reason: string): never {
  throw new ProvisioningError(reason, undefined, false);
}

function statementsOf(doc: unknown, what: string): Record<string, unknown>[] {
  const d = doc as { Version?: unknown; Statement?: unknown } | undefined;
  if (!d || typeof d !== 'object' || d.Version !== '2012-10-17') fail(`The ${what} must be a policy document with "Version": "2012-10-17".`);
  const statements = Array.isArray(d.Statement) ? d.Statement : [d.Statement];
  if (statements.length === 0 || statements.some((s) => !s || typeof s !== 'object')) fail(`The ${what} needs at least one statement, each an object.`);
  return statements as Record<string, unknown>[];
}

function checkTrust(doc: PolicyDocument, maxChars: number): void {
  const statements = statementsOf(doc, 'trust policy');
  // One statement, one principal: a second Allow (or a list of ARNs) would let someone else assume the role.
  if (statements.length !== 1) fail(`The trust policy has ${statements.length} statements; rolegate trusts exactly one IAM user or role, in one statement.`);
  for (const statement of statements) {
    const principal = statement.Principal as { AWS?: unknown } | string | undefined;
    const others = principal && typeof principal === 'object' ? Object.keys(principal).filter((k) => k !== 'AWS') : [];
    const aws = typeof principal === 'object' ? principal.AWS : principal;
    const arns = Array.isArray(aws) ? aws : [aws];
    for (const arn of arns) {
      if (typeof arn !== 'string' || arn.includes('*') || arn.includes('?') || !TRUSTED_ARN.test(arn)) {
        fail(`The trust policy would trust "${String(arn)}"; rolegate trusts exactly one IAM user or role, never a wildcard or an account root.`);
      }
    }
    if (arns.length !== 1) fail(`The trust policy would trust ${arns.length} principals; rolegate trusts exactly one IAM user or role.`);
    if (others.length) fail(`The trust policy would trust ${others.join(', ')} principals; rolegate trusts exactly one IAM user or role.`);
    if ('NotPrincipal' in statement) fail('The trust policy uses NotPrincipal; rolegate trusts exactly one IAM user or role.');
    // Without an end the grant would never expire in IAM: the one control that holds when the sweeper is late.
    const end = (statement.Condition as { DateLessThan?: Record<string, unknown> } | undefined)?.DateLessThan?.['aws:CurrentTime'];
    if (statement.Effect === 'Allow' && (typeof end !== 'string' || Number.isNaN(Date.parse(end)))) {
      fail('Every Allow statement of the trust policy needs a DateLessThan aws:CurrentTime condition holding an ISO 8601 time.');
    }
    // A pin with a wildcard in the session name would admit other people's sessions of the role.
    const pin = (statement.Condition as { StringLike?: Record<string, unknown> } | undefined)?.StringLike?.[USER_ID_KEY];
    if (pin !== undefined && (typeof pin !== 'string' || !PINNED_USER_ID.test(pin))) {
      fail(`The trust policy would pin ${USER_ID_KEY} to "${String(pin)}"; a personal grant admits exactly one session name (2–64 letters, digits and +=,.@_-).`);
    }
    // Only assuming; and a source identity only as carried, or the grantee could write anyone's name into the trail.
    const actions = actionsOf(statement.Action);
    if (actions.length === 0 || actions.some((a) => !(ASSUME_ACTIONS as readonly string[]).includes(a))) {
      fail(`The trust policy would allow ${JSON.stringify(statement.Action ?? null)}; rolegate allows only ${ASSUME_ACTIONS.join(' and ')}.`);
    }
    const { operator, key, carried } = SOURCE_IDENTITY_PIN;
    const sourcePin = (statement.Condition as Record<string, Record<string, unknown> | undefined> | undefined)?.[operator]?.[key];
    if (actions.includes(ASSUME_ACTIONS[1]) && sourcePin !== carried) {
      fail(`The trust policy allows ${ASSUME_ACTIONS[1]} without the ${operator} ${key} "${carried}" condition; a grantee could then set any source identity.`);
    }
  }
  const size = policySize(doc);
  if (size > maxChars) {
    fail(
      `The trust policy is ${size} characters without whitespace; this account's IAM quota is ${maxChars}` +
        (maxChars === DEFAULT_TRUST_POLICY_MAX_CHARS ? ' (the default: ask AWS to raise it and set the account\'s trustPolicyMaxChars).' : ' (its trustPolicyMaxChars).'),
    );
  }
}

function checkTags(tags: Tag[]): void {
  if (tags.length > MAX_TAGS) fail(`The role would carry ${tags.length} tags; IAM allows ${MAX_TAGS}.`);
  for (const { Key, Value } of tags) {
    if (Key.length < 1 || Key.length > TAG_KEY_MAX || !TAG_CHARS.test(Key)) fail(`The tag key "${Key}" breaks IAM's rules (1–${TAG_KEY_MAX} letters, digits, spaces and _.:/=+-@).`);
    if (Value.length > TAG_VALUE_MAX) fail(`The value of tag ${Key} is ${Value.length} characters; IAM allows ${TAG_VALUE_MAX}.`);
    if (!TAG_CHARS.test(Value)) fail(`The value of tag ${Key} holds characters IAM refuses in tags (it allows letters, digits, spaces and _.:/=+-@).`);
  }
}

/**
 * Checks a desired role against IAM's rules before any call is made: role
 * name and path (path + name ≤ 64 for console switch-role), a trust that
 * names exactly one user or role and carries its end time, the trust-policy
 * quota (default 2,048, raised per account), the 10,240-character inline
 * policy (its size, IAM's policy-document characters and its one
 * end-of-access statement), managed-policy
 * count, session length, tags and description.
 * Sizes are counted without whitespace, as IAM counts them.
 */
export function validateDocuments(d: DesiredRole, limits: DocumentLimits = {}): void {
  const trustMax = limits.trustPolicyMaxChars ?? DEFAULT_TRUST_POLICY_MAX_CHARS;
  if (!ROLE_NAME.test(d.roleName)) fail(`The role name "${d.roleName}" breaks IAM's naming rules (1–64 letters, digits and +=,.@_-).`);
  if (!ROLE_PATH_CHARS.test(d.path)) fail(`The role path "${d.path}" breaks IAM's rules (/ or /segment/…/ of letters, digits and +=,.@_-).`);
  const pathAndName = d.path.length + d.roleName.length;
  if (pathAndName > MAX_PATH_AND_NAME) {
    fail(`Path and role name are ${pathAndName} characters; console switch-role allows ${MAX_PATH_AND_NAME} (${d.path}${d.roleName}).`);
  }
  checkTrust(d.trustPolicy, trustMax);
  const statements = statementsOf(d.inlinePolicy, "profile's inline policy");
  const ends = statements.filter((st) => st.Sid === ACCESS_ENDS_SID);
  const end = (ends[0]?.Condition as { DateGreaterThan?: Record<string, unknown> } | undefined)?.DateGreaterThan?.['aws:CurrentTime'];
  if (ends.length !== 1 || ends[0]!.Effect !== 'Deny' || typeof end !== 'string' || Number.isNaN(Date.parse(end))) {
    fail(`The role's inline policy needs exactly one ${ACCESS_ENDS_SID} statement denying everything after an ISO 8601 time (a profile statement may not use that Sid).`);
  }
  const inlineProblem = inlinePolicyProblem(d.inlinePolicy);
  if (inlineProblem) fail(inlineProblem);
  const managedProblem = managedPoliciesProblem(d.managedPolicyArns.length, limits.managedPoliciesPerRoleMax);
  if (managedProblem) fail(managedProblem);
  if (!Number.isInteger(d.maxSessionDuration) || d.maxSessionDuration < 3600 || d.maxSessionDuration > 43200) {
    fail(`MaxSessionDuration ${d.maxSessionDuration} is outside IAM's 3600–43200 seconds.`);
  }
  checkTags(d.tags);
  if (d.description.length > DESCRIPTION_MAX || !DESCRIPTION_CHARS.test(d.description)) {
    fail(`The role description must be at most ${DESCRIPTION_MAX} printable Latin-1 characters; it is ${d.description.length}.`);
  }
}

/**
 * Whether writing the desired trust over the current one would let anyone
 * assume the role more than now: the same grantee until a later end, with
 * an action it lacks now, or without the MFA, ExternalId, session-name or
 * source-identity condition it has now. A current trust of any
 * other shape (another principal, edited by hand) is replaced as a narrowing.
 */
export function trustWidens(current: unknown, desired: PolicyDocument): boolean {
  const was = grantStatementOf(current);
  const will = grantStatementOf(desired);
  if (!was || !will || !samePolicy(was.Principal, will.Principal)) return false;
  const [wasEnd, willEnd] = [was.Condition?.DateLessThan?.['aws:CurrentTime'], will.Condition?.DateLessThan?.['aws:CurrentTime']];
  if (wasEnd === undefined || willEnd === undefined || Date.parse(willEnd) > Date.parse(wasEnd)) return true;
  // An action it does not allow now (sts:SetSourceIdentity, to a trust written before rolegate allowed it).
  if (will.Action.some((a) => !was.Action.includes(a))) return true;
  // A condition the current trust holds, gone or changed.
  return [
    ['Bool', 'aws:MultiFactorAuthPresent'],
    ['StringEquals', 'sts:ExternalId'],
    ['StringLike', USER_ID_KEY],
    // The pin matters only while sts:SetSourceIdentity is allowed.
    ...(will.Action.includes(ASSUME_ACTIONS[1]) ? [[SOURCE_IDENTITY_PIN.operator, SOURCE_IDENTITY_PIN.key]] : []),
  ].some(([operator, key]) => {
    const now = was.Condition?.[operator!]?.[key!];
    return now !== undefined && will.Condition?.[operator!]?.[key!] !== now;
  });
}

type Conditions = Record<string, Record<string, string>>;

/** A policy document's statements as a list (IAM takes a lone one unwrapped), each as held: not yet checked to be an object. */
export function statementsIn(doc: unknown): unknown[] {
  const statements = (doc as { Statement?: unknown } | undefined)?.Statement;
  return Array.isArray(statements) ? statements : [statements];
}

/** A trust's one Allow statement, beside any number of Denies (a responder's); undefined for any other shape. */
function grantStatementOf(doc: unknown): { Principal: unknown; Action: string[]; Condition?: Conditions } | undefined {
  const list = statementsIn(doc);
  if (list.some((st) => !st || typeof st !== 'object')) return undefined;
  const allows = list.filter((st) => (st as { Effect?: unknown }).Effect !== 'Deny');
  if (allows.length !== 1) return undefined;
  const s = allows[0] as { Effect?: unknown; Principal?: unknown; Action?: unknown; Condition?: unknown };
  if (s.Effect !== 'Allow' || s.Principal === undefined) return undefined;
  return { Principal: s.Principal, Action: actionsOf(s.Action), ...(s.Condition && typeof s.Condition === 'object' ? { Condition: s.Condition as Conditions } : {}) };
}

/** A statement's actions as a list (IAM takes one as a string); anything else as no action. */
function actionsOf(action: unknown): string[] {
  const list = Array.isArray(action) ? action : [action];
  return list.every((a): a is string => typeof a === 'string') ? list : [];
}

/**
 * The id IAM shows in a trust's principal once that user (AIDA…) or role
 * (AROA…) is deleted, or undefined. IAM stores a principal by its unique id;
 * a principal made later under the same name has another id, and the trust
 * no longer lets anyone in. Writing the ARN back would trust the new one.
 */
export function deletedPrincipalIn(trust: unknown): string | undefined {
  // In any statement that allows, among any principals. A Deny someone added that names a deleted principal
  // denies nobody now: rolegate leaves that principal out of it when it writes the trust (foreignDenies).
  for (const statement of statementsIn(trust)) {
    if ((statement as { Effect?: unknown } | undefined)?.Effect === 'Deny') continue;
    const principal = (statement as { Principal?: { AWS?: unknown } } | undefined)?.Principal;
    const ids = [principal?.AWS].flat().find((aws): aws is string => isDeletedPrincipalId(aws));
    if (ids !== undefined) return ids;
  }
  return undefined;
}

/** The unique id (AIDA… for a user, AROA… for a role) IAM shows in a policy in place of a principal deleted since. */
const isDeletedPrincipalId = (aws: unknown): aws is string => typeof aws === 'string' && /^A(ID|RO)A[A-Z0-9]{12,124}$/.test(aws);

/**
 * Whether a policy only denies: every statement `Deny`. Such a policy can
 * only take access away, so one rolegate did not write on its role is left
 * in place and is no drift: the console's "Revoke active sessions"
 * (AWSRevokeOlderSessions), or a responder's own Deny, must outlive the
 * next change to the grant.
 */
export function onlyDenies(doc: unknown): boolean {
  const list = statementsIn(doc);
  return list.length > 0 && list.every((s) => !!s && typeof s === 'object' && (s as { Effect?: unknown }).Effect === 'Deny');
}

/** The Sid of what a grant role's profile policy holds while its boundary is swapped (IamProvisioner): nothing allowed. */
export const HOLD_SID = 'RolegateProfileChanging';

/** The Sid of the statement that locks a grant role down (IamProvisioner): it admits nobody, until a person takes it out. */
export const LOCKED_DOWN_SID = 'RolegateLockedDown';

/**
 * The statement of a locked-down grant role's trust: it denies every AWS
 * principal sts:AssumeRole (the form IAM takes in a trust: a bare "*"
 * principal it refuses there). The trust holds no Allow beside it.
 */
export const LOCKED_DOWN_STATEMENT: Readonly<Record<string, unknown>> = { Sid: LOCKED_DOWN_SID, Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' };

/**
 * Whether a trust holds the lock: a Deny under the lock's Sid of
 * sts:AssumeRole (or every STS action) to every principal, in whichever
 * form IAM gives it back. A statement that only borrows the Sid (an Allow,
 * a Deny of someone) locks nothing, and is compared as any other hand
 * change is.
 */
export function isLockedDown(trust: unknown): boolean {
  return statementsIn(trust).some((st) => {
    if (!st || typeof st !== 'object') return false;
    const { Sid, Effect, Principal, Action, Condition } = st as Record<string, unknown>;
    const everyone = Principal === '*' || [(Principal as { AWS?: unknown } | undefined)?.AWS].flat().includes('*');
    const actions = [Action].flat();
    return Sid === LOCKED_DOWN_SID && Effect === 'Deny' && everyone && Condition === undefined && (actions.includes('sts:AssumeRole') || actions.includes('sts:*'));
  });
}

/** Sids of the Deny statements rolegate writes and rewrites itself (its end of access, its hold); any other Deny it did not write. */
const OWN_DENY_SIDS: ReadonlySet<unknown> = new Set([ACCESS_ENDS_SID, HOLD_SID]);

/** Managed policies AWS publishes that only deny: attached by hand, they contain a role. */
const DENY_ONLY_MANAGED_POLICIES = new Set(['AWSDenyAll']);

/** Whether a managed policy is one AWS publishes that only denies (AWSDenyAll): attached to a grant role, it contains it. */
export const isDenyOnlyManaged = (arn: string) => arn.includes(':aws:policy/') && DENY_ONLY_MANAGED_POLICIES.has(arn.split('/').at(-1)!);

/**
 * The Deny statements of a live policy (a grant role's trust, or its
 * profile policy) that rolegate did not write as it writes them now: what
 * an incident responder adds to contain a role, a statement of rolegate's
 * turned into a Deny, or a lockdown (LOCKED_DOWN_SID). rolegate never takes
 * one away, neither by a repair nor by any change to the grant; only its
 * own end of access and hold, which it moves and lifts, are its to rewrite.
 * One under a Sid the desired document gives (its grant turned into a Deny,
 * a profile statement edited since) is kept without that Sid, as IAM
 * refuses a Sid twice. So a Deny the profile itself had and has changed or
 * dropped since stays too, until the role is deleted: it only narrows. A
 * principal IAM shows by its unique id (deleted since) is left out of a
 * kept Deny, as it matches nobody and IAM would refuse it written back; a
 * Deny that named only such principals goes.
 */
export function foreignDenies(live: unknown, desired: PolicyDocument): Record<string, unknown>[] {
  const wanted = new Set(desired.Statement.map((st) => canonicalText(st)));
  const sids = new Set<unknown>(desired.Statement.map((st) => st.Sid).filter((sid) => sid !== undefined));
  return statementsIn(live).flatMap((st) => {
    if (!st || typeof st !== 'object') return [];
    const statement = st as Record<string, unknown>;
    if (statement.Effect !== 'Deny' || OWN_DENY_SIDS.has(statement.Sid) || wanted.has(canonicalText(statement))) return [];
    const { Sid: _sid, ...unnamed } = statement;
    const kept = withoutDeletedPrincipals(sids.has(statement.Sid) ? unnamed : statement);
    if (!kept || wanted.has(canonicalText(kept))) return [];
    // Two that read alike once unnamed are one.
    wanted.add(canonicalText(kept));
    return [kept];
  });
}

/** A statement without the principals IAM shows by unique id (deleted); undefined when it named no other. */
function withoutDeletedPrincipals(statement: Record<string, unknown>): Record<string, unknown> | undefined {
  const principal = statement.Principal as { AWS?: unknown } | undefined;
  if (!principal || typeof principal !== 'object' || principal.AWS === undefined) return statement;
  const all = [principal.AWS].flat();
  const alive = all.filter((aws) => !isDeletedPrincipalId(aws));
  if (alive.length === all.length) return statement;
  if (alive.length === 0) return undefined;
  return { ...statement, Principal: { ...principal, AWS: alive.length === 1 ? alive[0] : alive } };
}

/** A desired policy with the live one's foreign Denies kept (foreignDenies): what rolegate writes over a role a responder contained. */
export function keepingDenies(desired: PolicyDocument, live: unknown): PolicyDocument {
  const kept = foreignDenies(live, desired);
  return kept.length === 0 ? desired : { ...desired, Statement: [...desired.Statement, ...kept] };
}

/**
 * Why IAM would refuse a grant role's documents once the Denies someone
 * else put on it are kept beside rolegate's (keepingDenies), if it would:
 * the trust's size; the inline policies' size, which IAM counts over all of
 * a role's inline policies (the profile policy and the Deny-only ones kept
 * beside it, `keptInlineChars`); the managed-policy quota with AWSDenyAll
 * kept attached. Checked before anything is written.
 */
export function containedRoleProblem(d: DesiredRole, keptManaged: number, limits: DocumentLimits, keptInlineChars = 0): string | undefined {
  const trustMax = limits.trustPolicyMaxChars ?? DEFAULT_TRUST_POLICY_MAX_CHARS;
  const trustSize = policySize(d.trustPolicy);
  if (trustSize > trustMax) return `its trust policy would be ${trustSize} characters without whitespace, over this account's quota of ${trustMax}`;
  const inlineSize = policySize(d.inlinePolicy);
  if (inlineSize + keptInlineChars > INLINE_POLICY_MAX_CHARS) {
    return keptInlineChars === 0
      ? `its inline policy ${d.inlinePolicyName} would be ${inlineSize} characters without whitespace, over IAM's ${INLINE_POLICY_MAX_CHARS}`
      : `its inline policies would be ${inlineSize + keptInlineChars} characters without whitespace (${d.inlinePolicyName} ${inlineSize}, the Deny-only ones kept beside it ${keptInlineChars}), over IAM's ${INLINE_POLICY_MAX_CHARS} for a role`;
  }
  const perRoleMax = limits.managedPoliciesPerRoleMax ?? MAX_MANAGED_POLICIES;
  const attached = d.managedPolicyArns.length + keptManaged;
  return attached > perRoleMax ? `it would hold ${attached} managed policies, over this account's ${perRoleMax} per role` : undefined;
}

/** True when two policy documents say the same thing (compared as parsed JSON; a one-element array equals its element). */
export function samePolicy(a: unknown, b: unknown): boolean {
  return canonicalText(a) === canonicalText(b);
}

/** A document as text that is the same for the same document, whatever the order of its keys. */
export function canonicalText(v: unknown): string {
  return JSON.stringify(canonical(v));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 1 ? canonical(v[0]) : v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** IAM returns policy documents URL-encoded (RFC 3986); a plain JSON string is accepted too. */
export function parsePolicy(doc: string | undefined): unknown {
  if (!doc) return undefined;
  try {
    return JSON.parse(decodeURIComponent(doc));
  } catch {
    return JSON.parse(doc);
  }
}
