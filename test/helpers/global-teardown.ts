import type { RunningDynamo } from '../../src/local/dynamodb-local';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __ROLEGATE_DYNAMO__?: RunningDynamo }).__ROLEGATE_DYNAMO__?.stop();
}
