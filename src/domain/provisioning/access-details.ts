import type { AccessDetails } from '../model';
import type { Principal } from '../principal';
import type { AccountSettings, Profile } from '../settings';

const CONSOLE_HOST: Record<string, string> = {
  aws: 'https://signin.aws.amazon.com',
  'aws-us-gov': 'https://signin.amazonaws-us-gov.com',
  'aws-cn': 'https://signin.amazonaws.cn',
};

/** Console switch-role link. For a role with a path the console takes `roleName=<path without leading slash><name>`. */
export function switchRoleUrl(roleArn: string, accountId: string, displayName: string): string {
  const partition = roleArn.split(':')[1] ?? 'aws';
  const roleWithPath = roleArn.slice(roleArn.indexOf(':role/') + ':role/'.length);
  const params = new URLSearchParams({ roleName: roleWithPath, account: accountId, displayName: displayName.slice(0, 64) });
  return `${CONSOLE_HOST[partition] ?? CONSOLE_HOST.aws}/switchrole?${params.toString()}`;
}

/** An `~/.aws/config` profile for the role, with MFA where the profile asks for it (people only). */
export function cliProfile(name: string, roleArn: string, principal: Principal, profile: Profile): string {
  const lines = [`[profile ${name}]`, `role_arn = ${roleArn}`, 'source_profile = default'];
  if (profile.requireMfa && principal.type === 'user') {
    lines.push(`mfa_serial = arn:${principal.partition}:iam::${principal.accountId}:mfa/${principal.name}`);
  }
  lines.push(`duration_seconds = ${profile.maxSessionDurationSeconds}`);
  return lines.join('\n');
}

/** Everything the requester needs to use the role. */
export function accessDetails(roleArn: string, account: AccountSettings, profile: Profile, principal: Principal, endsAt: string): AccessDetails {
  const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
  const display = `${account.alias}-${profile.name}`;
  return {
    roleArn,
    accountId: account.id,
    roleName,
    switchRoleUrl: switchRoleUrl(roleArn, account.id, display),
    cliProfile: cliProfile(display, roleArn, principal, profile),
    endsAt,
    note: 'IAM is eventually consistent: the first assumption of a new role can fail for a few seconds. Try again shortly.',
  };
}
