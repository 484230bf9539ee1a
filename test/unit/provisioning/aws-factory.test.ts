import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { AWS_CALL_BOUNDS, DYNAMODB_CALL_BOUNDS } from '../../../src/adapters/aws/call-bounds';
import { createAwsProvisioning } from '../../../src/adapters/aws/factory';
import { isTransient } from '../../../src/adapters/aws/retry';
import { exampleSettings } from '../../helpers/settings';

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
