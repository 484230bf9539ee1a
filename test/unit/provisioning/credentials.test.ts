import { IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { IDENTITY_ACCOUNT_KEY, provisionerRole, ProvisionerCredentials, sessionName, type TemporaryCredentials } from '../../../src/adapters/aws/credentials';
import { ProvisioningError } from '../../../src/domain/errors';
import { account, awsError, instantRetry, ManualClock, sandbox, stsCredentials } from './fixtures';

const sts = mockClient(STSClient);

function credentials(clock = new ManualClock()) {
  const made: TemporaryCredentials[] = [];
  const creds = new ProvisionerCredentials(new STSClient({ region: 'eu-west-1' }), clock, (c) => {
    made.push(c);
    return new IAMClient({ region: 'eu-west-1', credentials: c });
  }, instantRetry().options);
  return { creds, made };
}

beforeEach(() => {
  sts.reset();
  sts.on(AssumeRoleCommand).resolves(stsCredentials('2026-03-02T10:00:00.000Z'));
});

describe('ProvisionerCredentials', () => {
  it('shares one AssumeRole among concurrent callers for the same account', async () => {
    const { creds, made } = credentials();
    const target = provisionerRole(account('staging'));

    const clients = await Promise.all(['r1', 'r2', 'r3', 'r4', 'r5'].map((id) => creds.iamFor(target, id)));

    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(new Set(clients).size).toBe(1);
    expect(made).toEqual([{ accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token', expiration: new Date('2026-03-02T10:00:00.000Z') }]);
  });

  it('assumes once per account: three accounts, three AssumeRole calls, each with its ExternalId', async () => {
    const { creds } = credentials();

    for (const a of [account('staging'), account('production'), sandbox]) {
      await creds.iamFor(provisionerRole(a), 'r1');
      await creds.iamFor(provisionerRole(a), 'r2');
    }

    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleArn: 'arn:aws:iam::222222222222:role/rolegate-provisioner', ExternalId: 'rolegate-staging-7f3a', RoleSessionName: 'rolegate-r1', DurationSeconds: 3600 },
      { RoleArn: 'arn:aws:iam::333333333333:role/rolegate-provisioner', ExternalId: 'rolegate-production-91c2', RoleSessionName: 'rolegate-r1', DurationSeconds: 3600 },
      { RoleArn: 'arn:aws:iam::444444444444:role/rolegate-provisioner', ExternalId: 'rolegate-sandbox-0b1c', RoleSessionName: 'rolegate-r1', DurationSeconds: 3600 },
    ]);
  });

  it('renews five minutes before expiry, not earlier', async () => {
    const clock = new ManualClock(new Date('2026-03-02T09:00:00.000Z'));
    const { creds } = credentials(clock);
    const target = provisionerRole(account('staging'));
    const first = await creds.iamFor(target, 'r1');

    clock.set('2026-03-02T09:54:59.999Z');
    expect(await creds.iamFor(target, 'r2')).toBe(first);
    clock.set('2026-03-02T09:55:00.000Z');
    sts.on(AssumeRoleCommand).resolves(stsCredentials('2026-03-02T11:00:00.000Z'));
    const renewed = await creds.iamFor(target, 'r3');

    expect(renewed).not.toBe(first);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
    expect(await creds.credentialsFor(target, 'r4')).toMatchObject({ expiration: new Date('2026-03-02T11:00:00.000Z') });
  });

  it('does not cache a failed AssumeRole, and explains a refusal', async () => {
    const { creds } = credentials();
    const target = provisionerRole(account('staging'));
    sts.on(AssumeRoleCommand).rejectsOnce(awsError('AccessDenied', 'not authorized to perform: sts:AssumeRole', 403)).resolves(stsCredentials('2026-03-02T10:00:00.000Z'));

    const error = await creds.iamFor(target, 'r1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisioningError);
    expect(error).toMatchObject({ awsCode: 'AccessDenied', retryable: false });
    expect((error as Error).message).toMatch(/^AssumeRole into account 222222222222 failed: rolegate may not assume its provisioner role there: .*templates\/provisioner-role\.yaml.*externalId/);
    // The message reaches requesters and channels; rolegate's role ARN does not, STS's own text goes to the logs.
    expect((error as Error).message).not.toContain('role/rolegate-provisioner');
    expect(error).toMatchObject({ awsMessage: 'not authorized to perform: sts:AssumeRole' });

    await expect(creds.iamFor(target, 'r2')).resolves.toBeInstanceOf(IAMClient);
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 2);
  });

  it("names the identity account, not its granter role, when the identity side's AssumeRole fails", async () => {
    const { creds } = credentials();
    sts.on(AssumeRoleCommand).rejects(awsError('AccessDenied', 'not authorized to perform: sts:AssumeRole', 403));
    const error = await creds.iamFor({ key: IDENTITY_ACCOUNT_KEY, roleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter', externalId: 'x'.repeat(32) }, 'r1').catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^AssumeRole into the identity account failed: rolegate may not assume its identity-granter role there: .*templates\/identity-granter-role\.yaml.*identityExternalId/);
    expect((error as Error).message).not.toContain('rolegate-identity-granter');
  });

  it('fails retryably when STS answers without credentials', async () => {
    sts.on(AssumeRoleCommand).resolves({});
    await expect(credentials().creds.iamFor(provisionerRole(account('staging')), 'r1')).rejects.toMatchObject({ awsCode: 'NoCredentials', retryable: true });
  });

  it('names sessions rolegate-<request id> within STS rules', () => {
    expect(sessionName('01JABCDEF')).toBe('rolegate-01JABCDEF');
    expect(sessionName('a b/c#d')).toBe('rolegate-a-b-c-d');
    expect(sessionName('x'.repeat(100))).toHaveLength(64);
  });
});
