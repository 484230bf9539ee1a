import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { createAwsProvisioning } from '../../../src/adapters/aws/factory';
import { exampleSettings } from '../../helpers/settings';

/*
 * The real IAM and STS clients bound every call: a connection or an answer
 * that hangs ends as a TimeoutError (retried as transient) instead of
 * holding the invocation and a grant's lease until the Lambda times out.
 * Nothing is sent: the clients are only built and their handlers read.
 */

const handlerConfig = async (client: STSClient | IAMClient) => {
  const handler = client.config.requestHandler as unknown as { configProvider: Promise<{ requestTimeout?: number; connectionTimeout?: number }> };
  return handler.configProvider;
};

it('gives the STS and IAM clients a 3 s connection and a 10 s request timeout, and leaves retries to rolegate', async () => {
  const { provisioner } = createAwsProvisioning(exampleSettings(), 'eu-west-1', { now: () => new Date('2026-03-02T09:00:00Z') });
  const credentials = (provisioner as unknown as { credentials: { sts: STSClient; iamFactory: (c: unknown) => IAMClient } }).credentials;
  const sts = credentials.sts;
  const iam = credentials.iamFactory({ accessKeyId: 'a', secretAccessKey: 'b' });

  for (const client of [sts, iam]) {
    expect(await handlerConfig(client)).toMatchObject({ connectionTimeout: 3_000, requestTimeout: 10_000 });
    expect(await client.config.maxAttempts()).toBe(1);
  }
});
