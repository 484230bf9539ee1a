import { ValidationError } from './errors';

/** An IAM user or role, the only kinds of principal rolegate grants access to. */
export interface Principal {
  /** Canonical ARN: `arn:<partition>:iam::<account>:<type>/<path><name>`. */
  arn: string;
  partition: string;
  accountId: string;
  type: 'user' | 'role';
  /** `/` or `/segment/…/`. Unknown (`/`) for a role seen through an assumed-role session. */
  path: string;
  name: string;
}

const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov'] as const;
const ACCOUNT_ID = /^\d{12}$/;
// IAM user and role names: letters, digits and +=,.@_- (1–64). Paths use the same
// characters between slashes. Anything else (quotes, wildcards, spaces, newlines,
// look-alike Unicode) is refused here, so it can never reach a policy document.
const NAME = /^[A-Za-z0-9+=,.@_-]{1,64}$/;
const PATH = /^\/(?:[A-Za-z0-9+=,.@_-]+\/)*$/;
const IAM_ARN = /^arn:([a-z-]+):iam::(\d{12}):(user|role)(\/.*)$/;
const ASSUMED_ROLE_ARN = /^arn:([a-z-]+):sts::(\d{12}):assumed-role\/([^/]+)\/([^/]+)$/;
/** The names Identity Center gives the roles of permission sets (case-sensitive). */
const IDENTITY_CENTER_ROLE = /^AWSReservedSSO_/;

export function isAccountId(value: string): boolean {
  return ACCOUNT_ID.test(value);
}

export function isPartition(value: string): boolean {
  return (PARTITIONS as readonly string[]).includes(value);
}

function invalid(arn: string, reason: string, field: string): ValidationError {
  return new ValidationError(`Not a valid IAM user or role ARN: ${reason}.`, [{ field, reason }]);
}

/**
 * Parses an IAM user or role ARN. Accepts nothing else: no root, no wildcard,
 * no federated user, no service principal.
 */
export function parsePrincipalArn(arn: string, field = 'principalArn'): Principal {
  if (typeof arn !== 'string' || arn.length > 2048) throw invalid(String(arn), 'expected a string of at most 2048 characters', field);
  const m = IAM_ARN.exec(arn);
  if (!m) throw invalid(arn, 'expected arn:<partition>:iam::<12-digit account>:user/<name> or :role/<name>', field);
  const [, partition, accountId, type, rest] = m as unknown as [string, string, string, 'user' | 'role', string];
  if (!isPartition(partition)) throw invalid(arn, `unknown partition "${partition}"`, field);
  const slash = rest.lastIndexOf('/');
  const path = rest.slice(0, slash + 1);
  const name = rest.slice(slash + 1);
  if (!PATH.test(path) || path.length > 512) throw invalid(arn, 'the path holds characters IAM does not allow', field);
  if (!NAME.test(name)) throw invalid(arn, 'the name must be 1–64 letters, digits or +=,.@_-', field);
  return { arn: `arn:${partition}:iam::${accountId}:${type}${path}${name}`, partition, accountId, type, path, name };
}

/**
 * Where roles that people sign in through live. An assumed-role session ARN
 * names its role without the role's path, and a trust policy must name the
 * role with it (IAM Identity Center roles sit under
 * `/aws-reserved/sso.amazonaws.com/`), so the configuration says which role
 * names have which path.
 */
export interface RolePath {
  /** A role name, where `*` and `?` may stand for characters (case-sensitive: arnMatches). */
  roleName: string;
  /** `/segment/…/`. */
  path: string;
}

/**
 * Turns the caller ARN from the authenticated request context into the
 * principal it stands for: a user ARN as it is, an assumed-role session ARN
 * as the role it belongs to (the session name is dropped), under the path of
 * the first `rolePaths` entry its name matches (`/` if none does).
 */
export function principalFromCallerArn(callerArn: string, rolePaths: readonly RolePath[] = []): Principal {
  const m = ASSUMED_ROLE_ARN.exec(callerArn);
  if (m) {
    const [, partition, accountId, roleName] = m as unknown as [string, string, string, string];
    const path = rolePaths.find((r) => arnMatches(roleName, r.roleName))?.path ?? '/';
    return parsePrincipalArn(`arn:${partition}:iam::${accountId}:role${path}${roleName}`, 'caller');
  }
  return parsePrincipalArn(callerArn, 'caller');
}

function identityCenterSession(callerArn: string): string | undefined {
  const m = ASSUMED_ROLE_ARN.exec(callerArn);
  // Case-sensitive, as Identity Center names its roles and as an SCP's Resource matches
  // role/AWSReservedSSO_*: a role named awsreservedsso_… slips past that SCP, so it names no one.
  if (!m || !IDENTITY_CENTER_ROLE.test(m[3]!)) return undefined;
  return m[4]!;
}

/** A role Identity Center made for a permission set (named AWSReservedSSO_…, case-sensitive, as callerIdentity reads it). */
export function isIdentityCenterRole(p: Principal): boolean {
  return p.type === 'role' && IDENTITY_CENTER_ROLE.test(p.name);
}

/** Session names as STS allows them: what a personal grant's trust may pin (never a wildcard). */
export const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

/**
 * The session name of an Identity Center session, exactly as its ARN shows
 * it (case kept): the user name Identity Center set, and what a personal
 * grant's trust pins, as IAM compares it case-sensitively. Undefined for any
 * other caller (no person either: callerIdentity) and for a name STS would not issue.
 */
export function identityCenterSessionOf(callerArn: string): string | undefined {
  return pinnable(identityCenterSession(callerArn));
}

const pinnable = (session: string | undefined) => (session !== undefined && SESSION_NAME.test(session) ? session : undefined);

/**
 * Who a caller ARN signs in as: its principal (a session as its role, under
 * its configured path) and, for an Identity Center session, the person and
 * the session name exactly as shown. The API and Slack (an entry of
 * slack.users) read a caller ARN the same way.
 *
 * The person, in lower case, is named only where AWS vouches for it: a
 * session of an IAM Identity Center role (`AWSReservedSSO_…`), whose session
 * name Identity Center sets to the user's name; the user cannot choose it.
 * The same person then shows through every permission set and account they
 * sign in to. None otherwise: an IAM user is its own person, and another
 * role's session name is whatever its caller chose. It only ever adds
 * refusals (never one's own request, never twice on one), so a session name
 * on a look-alike role can refuse its caller but never admit anyone. It is
 * also recorded (audit events' actorPerson), where a look-alike role that a
 * rule lets act (one named AWSReservedSSO_… by someone who may create roles
 * in the caller's account) could name anyone: the README asks for an SCP
 * that keeps that prefix to Identity Center.
 */
export function callerIdentity(callerArn: string, rolePaths: readonly RolePath[] = []): { arn: string; person?: string; sessionName?: string } {
  // One reading of the ARN for both: every API call and Slack action comes through here.
  const session = identityCenterSession(callerArn);
  const person = session?.toLowerCase();
  const sessionName = pinnable(session);
  return { arn: principalFromCallerArn(callerArn, rolePaths).arn, ...(person !== undefined ? { person } : {}), ...(sessionName !== undefined ? { sessionName } : {}) };
}

/**
 * The identity of a principal as IAM sees it. IAM names are unique per
 * account regardless of case and path, so two ARNs that differ only in the
 * case of the name or in the path are the same user or role.
 */
export function principalKey(p: Principal): string {
  return `${p.partition}:${p.accountId}:${p.type}:${p.name.toLowerCase()}`;
}

/** principalKey of an ARN, or undefined when it is no IAM user or role ARN. */
export function principalKeyOf(arn: string): string | undefined {
  try {
    return principalKey(parsePrincipalArn(arn));
  } catch {
    return undefined;
  }
}

export function samePrincipal(a: Principal, b: Principal): boolean {
  return principalKey(a) === principalKey(b);
}

const patternCache = new Map<string, RegExp>();

/**
 * Matches an ARN against a configuration pattern where `*` matches any run of
 * characters and `?` one character. Case-sensitive, as IAM's own ArnLike
 * matches: a pattern that gives something (a requester's, an approver's or a
 * responder's rights, an Identity Center path) must not admit a look-alike
 * such as `awsreservedsso_…`, which an SCP on `AWSReservedSSO*` (matched
 * case-sensitively) does not stop anyone creating. `anyCase` is for patterns
 * that only take something away (freeze): a name in another case is the same
 * IAM user or role, and a responder's pattern in the wrong case must still
 * freeze it.
 */
export function arnMatches(arn: string, pattern: string, options: { anyCase?: boolean } = {}): boolean {
  const key = `${options.anyCase ? 'i' : 's'}${pattern}`;
  let re = patternCache.get(key);
  if (!re) {
    const body = pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    re = new RegExp(`^${body}$`, options.anyCase ? 'i' : '');
    patternCache.set(key, re);
  }
  return re.test(arn);
}

/** True when the principal's ARN matches any of the patterns. */
export function matchesAny(p: Principal, patterns: readonly string[], options: { anyCase?: boolean } = {}): boolean {
  return patterns.some((pattern) => arnMatches(p.arn, pattern, options));
}
