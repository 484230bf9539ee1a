import { IAMClient, NoSuchEntityException, type Role } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { ProvisionerCredentials } from '../../../src/adapters/aws/credentials';
import type { Clock, GrantSpec } from '../../../src/domain/ports';
import { parsePrincipalArn, type Principal } from '../../../src/domain/principal';
import { desiredRole } from '../../../src/domain/provisioning/documents';
import { roleNameFor } from '../../../src/domain/provisioning/role-name';
import type { AccountSettings, Profile } from '../../../src/domain/settings';
import { exampleSettings } from '../../helpers/settings';

/* Shared arrangements for the provisioning tests (not a test file itself). */

export const settings = exampleSettings();
export const alice = parsePrincipalArn('arn:aws:iam::111111111111:user/alice');
export const billingApp = parsePrincipalArn('arn:aws:iam::111111111111:role/app-billing');
export const END = '2026-03-02T10:00:00.000Z';

export const profile = (name: 'ReadOnly' | 'S3ReadOnly' | 'EC2Admin'): Profile => settings.profiles.find((p) => p.name === name)!;
export const account = (alias: 'staging' | 'production'): AccountSettings => settings.accounts.find((a) => a.alias === alias)!;
/** A third target account, beyond the example configuration's two. */
export const sandbox: AccountSettings = {
  ...account('staging'),
  id: '444444444444',
  alias: 'sandbox',
  provisionerRoleArn: 'arn:aws:iam::444444444444:role/rolegate-provisioner',
  externalId: 'rolegate-sandbox-0b1c',
};

export interface SpecOptions {
  principal?: Principal;
  profile?: Profile;
  account?: AccountSettings;
  endsAt?: string;
  requestIds?: string[];
  externalId?: string;
  session?: string;
}

/** The desired state of a grant, derived the way src/domain/grants.ts derives it. */
export function grantSpec(o: SpecOptions = {}): GrantSpec {
  const principal = o.principal ?? alice;
  const p = o.profile ?? profile('S3ReadOnly');
  const a = o.account ?? account('production');
  const roleName = roleNameFor(p.name, principal, o.externalId, o.session);
  return {
    grantKey: `${a.id}#${roleName}`,
    account: a,
    profile: p,
    principal,
    roleName,
    endsAt: o.endsAt ?? END,
    requestIds: o.requestIds ?? ['01REQ'],
    partition: 'aws',
    ...(o.externalId ? { externalId: o.externalId } : {}),
    ...(o.session !== undefined ? { session: o.session } : {}),
  };
}

/** The role as IAM's GetRole returns it once the spec was applied (trust URL-encoded, as IAM sends it). */
export function roleInIam(spec: GrantSpec, overrides: Partial<Role> & { trust?: unknown } = {}): Role {
  const d = desiredRole(spec);
  const { trust, ...rest } = overrides;
  return {
    RoleName: d.roleName,
    Path: d.path,
    Arn: d.roleArn,
    RoleId: 'AROAEXAMPLEEXAMPLE',
    CreateDate: new Date('2026-03-02T09:00:00.000Z'),
    AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(trust ?? d.trustPolicy)),
    MaxSessionDuration: d.maxSessionDuration,
    Description: d.description,
    ...(d.permissionsBoundaryArn ? { PermissionsBoundary: { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: d.permissionsBoundaryArn } } : {}),
    Tags: d.tags,
    ...rest,
  };
}

export const noSuchEntity = () => new NoSuchEntityException({ message: 'The role with name x cannot be found.', $metadata: { httpStatusCode: 404 } });

/** An AWS service error as the SDK raises it. */
export function awsError(name: string, message: string, httpStatusCode = 400): Error {
  return Object.assign(new Error(message), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode } });
}

export const stsCredentials = (expiration: string) => ({
  Credentials: { AccessKeyId: 'ASIAEXAMPLE', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(expiration) },
});

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private current = new Date('2026-03-02T09:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  set(iso: string): void {
    this.current = new Date(iso);
  }
}

/** Retries without waiting; the waits asked for are kept. */
export function instantRetry() {
  const waits: number[] = [];
  return { waits, options: { sleep: async (ms: number) => void waits.push(ms) } };
}

export function provisionerCredentials(clock: Clock = new ManualClock()) {
  return new ProvisionerCredentials(new STSClient({ region: 'eu-west-1' }), clock, (c) => new IAMClient({ region: 'eu-west-1', credentials: c }), instantRetry().options);
}

/** The name of every command a mocked client received, in order (reads included). */
export function commandNames(mock: { calls(): { args: unknown[] }[] }): string[] {
  return mock.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
}

/** A JSON policy text, parsed, so tests compare objects and never strings. */
export const parsed = (text: unknown) => JSON.parse(String(text)) as unknown;
