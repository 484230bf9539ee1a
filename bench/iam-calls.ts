import { GetRoleCommand, GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand, NoSuchEntityException } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { join } from 'node:path';
import { ProvisionerCredentials } from '../src/adapters/aws/credentials';
import { IamProvisioner } from '../src/adapters/aws/iam-provisioner';
import { systemClock } from '../src/adapters/system';
import { loadSettings } from '../src/config';
import type { GrantSpec } from '../src/domain/ports';
import { parsePrincipalArn } from '../src/domain/principal';
import { desiredRole } from '../src/domain/provisioning/documents';
import { roleNameFor } from '../src/domain/provisioning/role-name';

export interface IamCallsRow {
  name: string;
  iam: number;
  lowerBound: number;
  sts: number;
}

/**
 * IAM and STS calls per grant against the lower bound (the writes that must
 * happen), with IAM answered by aws-sdk-client-mock, and the AssumeRole
 * count across 100 grants in three accounts.
 */
export async function iamCalls(): Promise<{ rows: IamCallsRow[]; grants: number; accounts: number; assumeRoleCalls: number }> {
  const settings = loadSettings(join(__dirname, '..', 'config', 'rolegate.example.yaml'));
  const sts = mockClient(STSClient);
  const iam = mockClient(IAMClient);
  sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'A', SecretAccessKey: 'S', SessionToken: 'T', Expiration: new Date(Date.now() + 3600_000) } });
  const profile = settings.profiles.find((p) => p.name === 'S3ReadOnly')!;
  const spec = (accountIndex: number, user: string, endsAt: string): GrantSpec => {
    const account = accountIndex < settings.accounts.length ? settings.accounts[accountIndex]! : { ...settings.accounts[0]!, id: '444444444444', provisionerRoleArn: 'arn:aws:iam::444444444444:role/rolegate-provisioner' };
    const principal = parsePrincipalArn(`arn:aws:iam::111111111111:user/${user}`);
    const roleName = roleNameFor(profile.name, principal);
    return { grantKey: `${account.id}#${roleName}`, account, profile, principal, roleName, endsAt, requestIds: ['01A'], partition: 'aws' };
  };
  const roleState = (s: GrantSpec, endsAt = s.endsAt) => {
    const d = desiredRole({ ...s, endsAt });
    return { RoleName: d.roleName, Path: d.path, Arn: d.roleArn, RoleId: 'X', CreateDate: new Date(), AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(d.trustPolicy)), MaxSessionDuration: d.maxSessionDuration, Description: d.description, Tags: d.tags };
  };
  const noSleep = { sleep: async () => undefined };
  const fresh = () => new IamProvisioner(new ProvisionerCredentials(new STSClient({}), systemClock, (c) => new IAMClient({ credentials: c }), noSleep), noSleep);
  const rows: IamCallsRow[] = [];

  // New role: CreateRole, the inline policy (the profile's statements and the end of access), each managed policy.
  const s1 = spec(0, 'alice', '2026-03-02T10:00:00.000Z');
  iam.reset();
  sts.resetHistory();
  iam.on(GetRoleCommand).rejectsOnce(new NoSuchEntityException({ message: 'x', $metadata: {} })).resolves({ Role: roleState(s1) });
  await fresh().apply(s1, '01A');
  rows.push({ name: 'new role', iam: iam.calls().length, lowerBound: 2 + profile.managedPolicyArns.length, sts: sts.calls().length });

  // Existing role, already as desired (a re-run).
  const existing = (held: GrantSpec) => {
    iam.reset();
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: profile.managedPolicyArns.map((PolicyArn) => ({ PolicyArn })) });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['rolegate-profile'] });
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encodeURIComponent(JSON.stringify(desiredRole(held).inlinePolicy)) });
  };
  existing(s1);
  sts.resetHistory();
  iam.on(GetRoleCommand).resolves({ Role: roleState(s1) });
  await fresh().apply(s1, '01A');
  rows.push({ name: 'existing role, unchanged (re-run)', iam: iam.calls().length, lowerBound: 0, sts: sts.calls().length });

  // Overlap: a second request extends the end time of the same role (trust, tags and the end of access move).
  existing(s1);
  sts.resetHistory();
  const s2 = { ...s1, endsAt: '2026-03-02T11:00:00.000Z', requestIds: ['01A', '01B'] };
  iam.on(GetRoleCommand).resolvesOnce({ Role: roleState(s1) }).resolves({ Role: roleState(s2) });
  await fresh().apply(s2, '01B');
  rows.push({ name: 'overlap (later end, one more request)', iam: iam.calls().length, lowerBound: 3, sts: sts.calls().length });

  // 100 grants across three accounts through one credential cache.
  iam.reset();
  sts.resetHistory();
  iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: 'x', $metadata: {} }));
  const provisioner = fresh();
  let assumed = 0;
  for (let i = 0; i < 100; i++) {
    const s = spec(i % 3, `user${i}`, '2026-03-02T10:00:00.000Z');
    iam.on(GetRoleCommand, { RoleName: s.roleName }).rejectsOnce(new NoSuchEntityException({ message: 'x', $metadata: {} })).resolves({ Role: roleState(s) });
    await provisioner.apply(s, `r${i}`);
  }
  assumed = sts.commandCalls(AssumeRoleCommand).length;
  sts.restore();
  iam.restore();
  return { rows, grants: 100, accounts: 3, assumeRoleCalls: assumed };
}
