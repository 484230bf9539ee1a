import { ACCESS_ENDS_SID } from './access-ends';

/*
 * IAM's limits on what a profile puts on a role, in one place: the document
 * checks run them before any call is sent (documents.ts), and the
 * configuration runs them on every profile when it loads (settings.ts), so a
 * profile IAM would refuse is refused by `validate-config` and at start, not
 * by the first grant that uses it (or, worse, by the rewrite of a role other
 * requests share). Its own module: the configuration schema loads it at cold
 * start without the document builders.
 */

/** Aggregate inline policy size per role; rolegate puts one inline policy on a role. */
export const INLINE_POLICY_MAX_CHARS = 10_240;
/** Managed policies per role: IAM's default quota, which AWS raises per account on request… */
export const DEFAULT_MANAGED_POLICIES_PER_ROLE = 10;
/** …up to this ceiling. */
export const MAX_MANAGED_POLICIES = 20;

// IAM User Guide, "IAM and AWS STS quotas": a policy document holds only these characters.
const NOT_POLICY_CHAR = /[^\u0009\u000A\u000D\u0020-\u00FF]/u;

/** IAM counts a policy's size without whitespace. */
export function policySize(doc: unknown): number {
  return JSON.stringify(doc).replace(/\s+/g, '').length;
}

/** The statement every role's inline policy ends with: everything is denied after the grant's end. */
export function accessEndsStatement(endsAt: string): Record<string, unknown> {
  return { Sid: ACCESS_ENDS_SID, Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': endsAt } } };
}

/** Why IAM would refuse a role's inline policy (the profile's statements and rolegate's end of access), if it would. */
export function inlinePolicyProblem(doc: unknown): string | undefined {
  // JSON.stringify escapes control characters but sends anything above U+00FF as it is, and IAM refuses it.
  const bad = NOT_POLICY_CHAR.exec(JSON.stringify(doc))?.[0];
  if (bad) {
    return (
      `The profile's inline policy holds "${bad}" (U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}); ` +
      'IAM accepts only tab, line feed, carriage return and U+0020–U+00FF in policy documents.'
    );
  }
  const size = policySize(doc);
  if (size > INLINE_POLICY_MAX_CHARS) {
    return `The role's inline policy (the profile's statements and rolegate's end of access) is ${size} characters without whitespace; IAM allows ${INLINE_POLICY_MAX_CHARS} per role.`;
  }
  return undefined;
}

/** Any end of access has this length (an ISO instant with milliseconds), so this stands in for all of them. */
const SOME_END = '2000-01-01T00:00:00.000Z';

/**
 * Why IAM would refuse the inline policy of every role made from this
 * profile's statements, if it would. The configuration loader has already
 * refused a document that refers to itself or expands past its budget
 * (parseSettings), so this one is plain JSON.
 */
export function profileInlinePolicyProblem(inlinePolicy: { Statement?: unknown } | undefined): string | undefined {
  if (!inlinePolicy) return undefined;
  const own = [inlinePolicy.Statement].flat();
  return inlinePolicyProblem({ Version: '2012-10-17', Statement: [...own, accessEndsStatement(SOME_END)] });
}

/** Why an account would refuse to attach this many managed policies to one role, if it would. */
export function managedPoliciesProblem(count: number, perRoleMax: number | undefined): string | undefined {
  const max = perRoleMax ?? MAX_MANAGED_POLICIES;
  if (count <= max) return undefined;
  const quota =
    max === DEFAULT_MANAGED_POLICIES_PER_ROLE
      ? "IAM's default quota: ask AWS to raise it (up to 20) and set the account's managedPoliciesPerRoleMax"
      : max === MAX_MANAGED_POLICIES
        ? "IAM's ceiling"
        : "the account's managedPoliciesPerRoleMax";
  return `The profile attaches ${count} managed policies; the account allows ${max} per role (${quota}).`;
}
