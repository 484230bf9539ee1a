import type { AccessDetails } from '../model';
import { mfaRequired } from '../rules';
import { isIdentityCenterRole, type Principal } from '../principal';
import type { AccountSettings, Profile } from '../settings';

/*
 * What a requester receives once the role exists: the console link, a
 * ready ~/.aws/config profile, the end time.
 *
 * Console switch-role with a role path: the console's Role field takes the
 * path without its leading slash followed by the name (`rolegate/rg-x`), and
 * path + name must stay within 64 characters. Sources: IAM User Guide, "IAM
 * role management" (the 64-character rule for Switch Role) and "Switch from a
 * user to an IAM role (console)"; public links of the form
 * `switchrole?roleName=devops/Authorizer&account=…` use the same shape. The
 * value is sent URL-encoded (`rolegate%2Frg-x`), which the sign-in page
 * decodes like any query parameter. The console cannot switch to a role
 * whose trust requires an ExternalId (IAM User Guide, "Grant a user
 * permissions to switch roles"): such grants are for workloads and the CLI.
 */

/** Sign-in hosts per partition; another partition has no public console, so the commercial host stands in. */
const SIGNIN_HOST: Record<string, string> = {
  aws: 'https://signin.aws.amazon.com',
  'aws-us-gov': 'https://signin.amazonaws-us-gov.com',
  'aws-cn': 'https://signin.amazonaws.cn',
};

/** The console shows at most this many characters of a display name. */
const DISPLAY_NAME_MAX = 64;
/** AWS caps a session obtained by role chaining (a role assuming a role) at one hour. */
const ROLE_CHAINING_MAX_SECONDS = 3600;

function partitionOf(arn: string): string {
  return arn.split(':')[1] ?? 'aws';
}

/** The role's path without its leading slash, then its name: what the console's Role field expects. */
function roleWithPath(roleArn: string): string {
  const marker = ':role/';
  return roleArn.slice(roleArn.indexOf(marker) + marker.length);
}

/**
 * Console switch-role link for the role: `roleName` carries the path
 * (without the leading slash) because the role is not at `/`.
 */
export function switchRoleUrl(roleArn: string, accountId: string, displayName: string): string {
  const host = SIGNIN_HOST[partitionOf(roleArn)] ?? SIGNIN_HOST.aws;
  const query = [
    ['roleName', roleWithPath(roleArn)],
    ['account', accountId],
    ['displayName', displayName.slice(0, DISPLAY_NAME_MAX)],
  ]
    .map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
    .join('&');
  return `${host}/switchrole?${query}`;
}

/** The MFA device the CLI asks a code for: the virtual device named after the user, the AWS convention. */
export function mfaSerialFor(principal: Principal): string {
  return `arn:${principal.partition}:iam::${principal.accountId}:mfa/${principal.name}`;
}

/**
 * Session length to ask for. A user's long-term keys may ask for the role's
 * whole MaxSessionDuration. A workload role assumes by role chaining, which
 * AWS caps at one hour whatever the role allows, and asking for more fails
 * the call, so a role principal gets at most 3600.
 */
export function sessionSecondsFor(principal: Principal, profile: Profile): number {
  return principal.type === 'user' ? profile.maxSessionDurationSeconds : Math.min(profile.maxSessionDurationSeconds, ROLE_CHAINING_MAX_SECONDS);
}

export interface AccessOptions {
  /** The trust's sts:ExternalId, when the rule sets one for workload principals. */
  externalId?: string;
  /** The account's region (accounts[].region): the profile's, where STS is asked for the role's session. */
  region?: string;
}

/**
 * An `~/.aws/config` profile for the role: `source_profile = default` holds
 * the principal's own credentials; mfa_serial only where the profile asks
 * for MFA and the principal is a person (a workload role cannot do MFA). A
 * profile does not take its region from its source profile: without
 * `region` the CLI asks STS in AWS_REGION's region, or at the global
 * endpoint, which refuses aws-cn and aws-us-gov credentials.
 */
export function cliProfile(name: string, roleArn: string, principal: Principal, profile: Profile, options: AccessOptions = {}): string {
  const lines = [`[profile ${name}]`, `role_arn = ${roleArn}`, 'source_profile = default'];
  if (options.region) lines.push(`region = ${options.region}`);
  if (mfaRequired(profile, principal)) lines.push(`mfa_serial = ${mfaSerialFor(principal)}`);
  if (options.externalId) lines.push(`external_id = ${options.externalId}`);
  lines.push(`duration_seconds = ${sessionSecondsFor(principal, profile)}`);
  return lines.join('\n');
}

function noteFor(principal: Principal, profile: Profile, options: AccessOptions): string {
  const parts = ['IAM is eventually consistent: the first assumption of a new role can fail for a few seconds; try again shortly.'];
  if (mfaRequired(profile, principal)) {
    parts.push(`This profile requires MFA: mfa_serial assumes your virtual MFA device is named ${principal.name}; if not, use its ARN from your security credentials page.`);
  }
  if (options.externalId) parts.push('The role requires an ExternalId, so it can be used from the CLI or SDK but not from the console switch-role page.');
  // Identity Center credentials come from an SSO profile, not `default`.
  if (isIdentityCenterRole(principal)) parts.push('In the CLI profile, set source_profile to the name of your Identity Center (SSO) profile for this permission set.');
  return parts.join(' ');
}

/**
 * Everything the requester needs to use the role: ARN, console link, CLI
 * profile, end time, and a note on IAM's propagation delay.
 */
export function accessDetails(
  roleArn: string,
  account: AccountSettings,
  profile: Profile,
  principal: Principal,
  endsAt: string,
  options: AccessOptions = {},
): AccessDetails {
  const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  const display = `${account.alias}-${profile.name}`;
  return {
    roleArn,
    accountId: account.id,
    roleName,
    switchRoleUrl: switchRoleUrl(roleArn, account.id, display),
    cliProfile: cliProfile(display, roleArn, principal, profile, { ...options, ...(account.region ? { region: account.region } : {}) }),
    endsAt,
    note: noteFor(principal, profile, options),
  };
}
