import { startDynamoDbLocal } from '../../src/local/dynamodb-local';

/*
 * Starts the real DynamoDB Local engine once for the whole run. Integration
 * tests read its endpoint from ROLEGATE_TEST_DYNAMODB_ENDPOINT and create a
 * table of their own. If the engine cannot start, this throws and the run
 * fails: integration tests never skip silently.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const dynamo = await startDynamoDbLocal();
  process.env.ROLEGATE_TEST_DYNAMODB_ENDPOINT = dynamo.endpoint;
  (globalThis as { __ROLEGATE_DYNAMO__?: typeof dynamo }).__ROLEGATE_DYNAMO__ = dynamo;
  if (process.env.ROLEGATE_TEST_VERBOSE) console.log(`DynamoDB Local ready on ${dynamo.endpoint} in ${Date.now() - started} ms`);
}
