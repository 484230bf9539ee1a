import { ProvisioningError } from '../errors';
import type { GrantSpec } from '../ports';
import { ROLE_PATH, MAX_PATH_AND_NAME } from './role-name';

/*
 * The IAM documents for a grant, built as plain objects from validated
 * values only, and checked against IAM's limits before anything is sent.
 */

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Record<string, unknown>[];
}

export const MANAGED_TAG = { Key: 'managed-by', Value: 'rolegate' } as const;
export const INLINE_POLICY_NAME = 'rolegate-profile';
export const INLINE_POLICY_MAX_CHARS = 10_240;
const TAG_VALUE_MAX = 256;

export interface DesiredRole {
  roleName: string;
  path: string;
  roleArn: string;
  trustPolicy: PolicyDocument;
  managedPolicyArns: string[];
  inlinePolicy?: Record<string, unknown>;
  inlinePolicyName: string;
  permissionsBoundaryArn?: string;
  maxSessionDuration: number;
  description: string;
  tags: { Key: string; Value: string }[];
}

/**
 * Trust: exactly the grantee may assume the role, only until the grant's
 * end (IAM refuses it afterwards even if the sweeper is late), with MFA for
 * people where the profile asks for it, and the ExternalId where the rule
 * sets one for workload principals.
 */
export function trustPolicy(spec: GrantSpec): PolicyDocument {
  const condition: Record<string, Record<string, string>> = { DateLessThan: { 'aws:CurrentTime': spec.endsAt } };
  // A workload role cannot present MFA, so the condition applies to users only.
  if (spec.profile.requireMfa && spec.principal.type === 'user') condition.Bool = { 'aws:MultiFactorAuthPresent': 'true' };
  if (spec.externalId) condition.StringEquals = { 'sts:ExternalId': spec.externalId };
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'RolegateGrant', Effect: 'Allow', Principal: { AWS: spec.principal.arn }, Action: 'sts:AssumeRole', Condition: condition }],
  };
}

/** Identity side: the principal may assume exactly this role, until the end. */
export function identityPolicy(roleArn: string, endsAt: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'RolegateAssume', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn, Condition: { DateLessThan: { 'aws:CurrentTime': endsAt } } }],
  };
}

export function roleArnFor(spec: Pick<GrantSpec, 'partition' | 'account' | 'roleName'>): string {
  return `arn:${spec.partition}:iam::${spec.account.id}:role${ROLE_PATH}${spec.roleName}`;
}

function fitTag(value: string): string {
  return value.length <= TAG_VALUE_MAX ? value : `${value.slice(0, TAG_VALUE_MAX - 1)}…`;
}

/** The role as it should be; validated against IAM's limits (throws ProvisioningError). */
export function desiredRole(spec: GrantSpec): DesiredRole {
  const desired: DesiredRole = {
    roleName: spec.roleName,
    path: ROLE_PATH,
    roleArn: roleArnFor(spec),
    trustPolicy: trustPolicy(spec),
    managedPolicyArns: [...spec.profile.managedPolicyArns].sort(),
    ...(spec.profile.inlinePolicy ? { inlinePolicy: spec.profile.inlinePolicy as Record<string, unknown> } : {}),
    inlinePolicyName: INLINE_POLICY_NAME,
    ...(spec.profile.permissionsBoundaryArn ? { permissionsBoundaryArn: spec.profile.permissionsBoundaryArn } : {}),
    maxSessionDuration: spec.profile.maxSessionDurationSeconds,
    description: fitTag(`rolegate grant: ${spec.profile.name} for ${spec.principal.arn}`).slice(0, 1000),
    tags: [
      { ...MANAGED_TAG },
      { Key: 'rolegate:grant-key', Value: spec.grantKey },
      { Key: 'rolegate:profile', Value: spec.profile.name },
      { Key: 'rolegate:principal', Value: fitTag(spec.principal.arn) },
      { Key: 'rolegate:requests', Value: fitTag(spec.requestIds.join(' ')) },
      { Key: 'rolegate:ends-at', Value: spec.endsAt },
    ],
  };
  validateDesiredRole(desired, spec.account.trustPolicyMaxChars);
  return desired;
}

/** IAM counts policy size without whitespace. */
export function policySize(doc: unknown): number {
  return JSON.stringify(doc).replace(/\s+/g, '').length;
}

function fail(reason: string): never {
  throw new ProvisioningError(reason, undefined, false);
}

/** Checks the documents against IAM's rules before any call is made. */
export function validateDesiredRole(d: DesiredRole, trustPolicyMaxChars = 2048): void {
  if (!/^[\w+=,.@-]{1,64}$/.test(d.roleName)) fail(`The role name "${d.roleName}" breaks IAM's naming rules (1–64 of letters, digits and +=,.@_-).`);
  if (d.path.length + d.roleName.length > MAX_PATH_AND_NAME) {
    fail(`Path and role name are ${d.path.length + d.roleName.length} characters; console switch-role allows ${MAX_PATH_AND_NAME}.`);
  }
  for (const statement of d.trustPolicy.Statement) {
    const principal = (statement.Principal as { AWS?: unknown } | undefined)?.AWS;
    const arns = Array.isArray(principal) ? principal : [principal];
    for (const arn of arns) {
      if (typeof arn !== 'string' || arn.includes('*') || arn.includes('?') || /:root$/.test(arn) || !/^arn:aws[a-z-]*:iam::\d{12}:(user|role)\//.test(arn)) {
        fail(`The trust policy would name "${String(arn)}"; only one IAM user or role, never a wildcard or an account root, may be trusted.`);
      }
    }
  }
  const trust = policySize(d.trustPolicy);
  if (trust > trustPolicyMaxChars) {
    fail(`The trust policy is ${trust} characters without whitespace; this account's IAM quota is ${trustPolicyMaxChars} (raise it with AWS and set trustPolicyMaxChars).`);
  }
  if (d.inlinePolicy) {
    const inline = policySize(d.inlinePolicy);
    if (inline > INLINE_POLICY_MAX_CHARS) fail(`The profile's inline policy is ${inline} characters without whitespace; IAM allows ${INLINE_POLICY_MAX_CHARS} per role.`);
  }
  if (d.managedPolicyArns.length > 20) fail(`The profile attaches ${d.managedPolicyArns.length} managed policies; IAM allows at most 20 per role.`);
  if (d.maxSessionDuration < 3600 || d.maxSessionDuration > 43200) fail(`MaxSessionDuration ${d.maxSessionDuration} is outside IAM's 3600–43200 seconds.`);
}

/** True when two policy documents say the same thing (compared as parsed JSON, statement order kept). */
export function samePolicy(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
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

/** IAM returns policy documents URL-encoded. */
export function parsePolicy(doc: string | undefined): unknown {
  if (!doc) return undefined;
  try {
    return JSON.parse(decodeURIComponent(doc));
  } catch {
    return JSON.parse(doc);
  }
}
