import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { DYNAMODB_CALL_BOUNDS, SSM_CALL_BOUNDS } from '../../../src/adapters/aws/call-bounds';
import { MemoryLogger } from '../../../src/adapters/logger';
import { composeApp } from '../../../src/compose';
import { readEnv } from '../../../src/environment';
import { settingsWith } from '../../helpers/settings';

/*
 * The clients composeApp builds itself (DynamoDB, SSM) carry the call bounds,
 * so a hung connection ends as a TimeoutError instead of holding the
 * invocation (aws-factory.test.ts shows the bounds themselves end such a
 * call). Nothing is sent: the clients are built and their handlers read; SSM
 * is answered by aws-sdk-client-mock.
 */

type Bounded = { config: { requestHandler: unknown } };
const handlerConfig = async (client: Bounded) => (client.config.requestHandler as { configProvider: Promise<Record<string, unknown>> }).configProvider;
const deployed = { AWS_LAMBDA_FUNCTION_NAME: 'rolegate-prod-api', ROLEGATE_TABLE: 'rolegate-prod', AWS_REGION: 'eu-west-1' };

it('gives the DynamoDB client it builds the DynamoDB call bounds', async () => {
  const app = composeApp({ env: readEnv(deployed), settings: settingsWith(() => undefined), logger: new MemoryLogger() });

  expect(await handlerConfig((app.deps.requests as unknown as { doc: Bounded }).doc)).toMatchObject(DYNAMODB_CALL_BOUNDS);
});

it('gives the SSM client that reads secrets bounds of its own: 1 s to connect, 3 s to answer, two attempts (a read is part of a Slack answer or a notification)', async () => {
  const ssm = mockClient(SSMClient);
  try {
    let client: Bounded | undefined;
    ssm.on(GetParameterCommand).callsFake((_input, getClient) => {
      client = getClient() as unknown as Bounded;
      return { Parameter: { Value: 'signing-secret' } };
    });
    const app = composeApp({ env: readEnv(deployed), settings: settingsWith((d) => (d.slack = { users: {} })), logger: new MemoryLogger() });

    expect(await app.slack!.signingSecret()).toBe('signing-secret');
    expect(SSM_CALL_BOUNDS).toEqual({ connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true });
    expect(await handlerConfig(client!)).toMatchObject(SSM_CALL_BOUNDS);
    expect(await (client as unknown as { config: { maxAttempts: () => Promise<number> } }).config.maxAttempts()).toBe(2);
  } finally {
    ssm.restore();
  }
});
