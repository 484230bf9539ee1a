import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MemoryLogger } from '../../../src/adapters/logger';
import { composeApp, type InProcessWork } from '../../../src/compose';
import { readEnv } from '../../../src/environment';
import { IN_PROCESS } from '../../../src/local/in-process';
import { exampleSettings, settingsWith } from '../../helpers/settings';

/*
 * A deployed function composed with the dry-run provisioner (the default
 * mode, and the example configuration's) says so at every cold start:
 * requests would go ACTIVE with nothing granted in AWS. The local run,
 * which is meant to be dry, stays quiet. Nothing is called.
 */

const DRY_RUN_WARNING = 'provisioner.mode is dry-run: requests go ACTIVE with a plan, and nothing is sent to AWS; set provisioner.mode: aws to grant access';
const dynamodb = new DynamoDBClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

function warnings(env: Record<string, string>, settings = exampleSettings(), inProcess?: InProcessWork): string[] {
  const logger = new MemoryLogger();
  composeApp({ env: readEnv(env), settings, logger, dynamodb, ...(inProcess ? { inProcess } : {}) });
  return logger.lines.filter((l) => l.level === 'warn').map((l) => l.message);
}

it('warns a deployed function that its provisioner is dry-run', () => {
  expect(warnings({ AWS_LAMBDA_FUNCTION_NAME: 'rolegate-prod-worker', ROLEGATE_TABLE: 't' })).toEqual([DRY_RUN_WARNING]);
});

it('does not warn with the aws provisioner, nor in the local run', () => {
  const aws = settingsWith((doc) => {
    Object.assign(doc.provisioner as Record<string, unknown>, { mode: 'aws', identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter', identityExternalId: 'rolegate-identity-5b1e' });
  });
  expect(warnings({ AWS_LAMBDA_FUNCTION_NAME: 'rolegate-prod-worker', ROLEGATE_TABLE: 't' }, aws)).toEqual([]);
  expect(warnings({ ROLEGATE_LOCAL: 'true', ROLEGATE_TABLE: 't' }, exampleSettings(), IN_PROCESS)).toEqual([]);
});
