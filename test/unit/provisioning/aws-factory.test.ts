import { IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { provisionerRole, type ProvisionerCredentials } from '../../../src/adapters/aws/credentials';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { AWS_CALL_BOUNDS, DYNAMODB_CALL_BOUNDS } from '../../../src/adapters/aws/call-bounds';
import { createAwsProvisioning } from '../../../src/adapters/aws/factory';
import { isTransient } from '../../../src/adapters/aws/retry';
import { exampleSettings, settingsWith } from '../../helpers/settings';

/*
 * The real IAM and STS clients bound every call: a connection or an answer
 * that hangs ends as a TimeoutError (retried as transient) instead of
 * holding the invocation and a grant's lease until the Lambda times out.
 * Nothing is sent: the clients are only built and their handlers read.
 */

const handlerConfig = async (client: STSClient | IAMClient) => {
  const handler = client.config.requestHandler as unknown as { configProvider: Promise<{ requestTimeout?: number; connectionTimeout?: number; throwOnRequestTimeout?: boolean }> };
  return handler.configProvider;
};

it('gives the STS and IAM clients a 3 s connection and a 10 s request timeout, and leaves retries to rolegate', async () => {
  const { provisioner } = createAwsProvisioning(exampleSettings(), 'eu-west-1', { now: () => new Date('2026-03-02T09:00:00Z') });
  const credentials = (provisioner as unknown as { credentials: { sts: STSClient; iamFactory: (c: unknown) => IAMClient } }).credentials;
  const sts = credentials.sts;
  const iam = credentials.iamFactory({ accessKeyId: 'a', secretAccessKey: 'b' });

  for (const client of [sts, iam]) {
    expect(await handlerConfig(client)).toMatchObject({ connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true });
    expect(await client.config.maxAttempts()).toBe(1);
  }
});

describe('a call whose answer never comes (a server on loopback that accepts and stays silent)', () => {
  let server: Server;
  let endpoint: string;
  beforeAll(async () => {
    server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  // The bounds as configured, with the answer's allowance shortened so the test need not wait 10 s.
  // Without throwOnRequestTimeout each of these waits for ever (the test's own timeout fails it).
  const shortened = <T extends object>(bounds: T) => ({ ...bounds, requestTimeout: 200 });
  const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' };

  it.each([
    ['STS', () => new STSClient({ endpoint, region: 'eu-west-1', credentials, maxAttempts: 1, requestHandler: shortened(AWS_CALL_BOUNDS) }).send(new GetCallerIdentityCommand({}))],
    ['IAM', () => new IAMClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1, requestHandler: shortened(AWS_CALL_BOUNDS) }).send(new GetRoleCommand({ RoleName: 'r' }))],
    ['DynamoDB', () => new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials, maxAttempts: 1, requestHandler: shortened(DYNAMODB_CALL_BOUNDS) }).send(new DescribeTableCommand({ TableName: 't' }))],
  ])('%s ends it as a TimeoutError, which is retried as transient', async (_client, send) => {
    const error = await send().then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).toMatchObject({ name: 'TimeoutError' });
    expect(isTransient(error)).toBe(true);
  });
});

describe('the clients it builds act in the right account, as the right role', () => {
  // Mocked only inside this block: the tests above send real calls to a silent loopback server.
  let stsMock: AwsClientStub<STSClient>;
  let iamMock: AwsClientStub<IAMClient>;
  beforeAll(() => {
    stsMock = mockClient(STSClient);
    iamMock = mockClient(IAMClient);
  });
  const IDENTITY_ROLE = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
  const settings = settingsWith((doc) => {
    Object.assign(doc.provisioner as object, { mode: 'aws', identityRoleArn: IDENTITY_ROLE, identityExternalId: 'rolegate-identity-5b1e' });
  });
  /** Each role's session has credentials of its own, named after the role, so a test can tell which one a client holds. */
  const keyFor = (roleArn: string) => `ASIA${roleArn.split(':')[4]}`;
  beforeEach(() => {
    stsMock.reset();
    iamMock.reset();
    stsMock.on(AssumeRoleCommand).callsFake((input: { RoleArn: string }) => ({
      Credentials: { AccessKeyId: keyFor(input.RoleArn), SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date('2026-03-02T10:00:00Z') },
    }));
    iamMock.on(PutUserPolicyCommand).resolves({});
  });
  afterAll(() => {
    stsMock.restore();
    iamMock.restore();
  });
  const clock = { now: () => new Date('2026-03-02T09:00:00Z') };

  it("sends a target account's IAM calls with its provisioner role's credentials, assumed with the account's ExternalId", async () => {
    const { provisioner } = createAwsProvisioning(settings, 'eu-west-1', clock);
    const credentials = (provisioner as unknown as { credentials: ProvisionerCredentials }).credentials;
    const staging = settings.accounts.find((a) => a.alias === 'staging')!;

    const iam = await credentials.iamFor(provisionerRole(staging), '01KJNWP2NA4Z6K8N0Q5R7S9T1V');

    expect(stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleArn: 'arn:aws:iam::222222222222:role/rolegate-provisioner', ExternalId: 'rolegate-staging-7f3a', DurationSeconds: 3600, RoleSessionName: 'rolegate-01KJNWP2NA4Z6K8N0Q5R7S9T1V' },
    ]);
    expect(await iam.config.credentials()).toMatchObject({ accessKeyId: 'ASIA222222222222', secretAccessKey: 'secret', sessionToken: 'token' });
  });

  it("puts identity policies with the identity-granter role's credentials, assumed with its own ExternalId", async () => {
    const { identity } = createAwsProvisioning(settings, 'eu-west-1', clock);

    await identity.grant(parsePrincipalArn('arn:aws:iam::111111111111:user/alice'), 'arn:aws:iam::222222222222:role/rolegate/rg-ReadOnly-alice-1a2b3c4d', '2026-03-02T10:00:00.000Z', '222222222222#rg-ReadOnly-alice-1a2b3c4d');

    expect(stsMock.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleArn: IDENTITY_ROLE, ExternalId: 'rolegate-identity-5b1e', DurationSeconds: 3600, RoleSessionName: 'rolegate-identity' },
    ]);
    const put = iamMock.commandCalls(PutUserPolicyCommand);
    expect(put).toHaveLength(1);
    const client = put[0]!.thisValue as IAMClient;
    expect(await client.config.credentials()).toMatchObject({ accessKeyId: 'ASIA111111111111', sessionToken: 'token' });
  });
});
