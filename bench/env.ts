import { DynamoGrantStore } from '../src/adapters/dynamodb/grant-store';
import { DynamoRequestStore } from '../src/adapters/dynamodb/request-store';
import { createDocumentClient } from '../src/adapters/dynamodb/client';
import { MemoryLogger } from '../src/adapters/logger';
import { streamQueue } from '../src/adapters/queues';
import { systemClock, ulidIds } from '../src/adapters/system';
import { loadSettings } from '../src/config';
import type { ProvisioningDeps } from '../src/domain/use-cases/provisionRequest';
import { createTable, localClient, type RunningDynamo } from '../src/local/dynamodb-local';
import { RecordingIdentityGranter, RecordingProvisioner } from '../test/helpers/recording-provisioner';
import { join } from 'node:path';

let n = 0;

/** Use-cases on a fresh table of a running DynamoDB Local, with IAM recorded (benchmarks measure rolegate, not AWS). */
export async function benchDeps(dynamo: RunningDynamo) {
  const client = localClient(dynamo.endpoint);
  const tableName = `bench-${process.pid}-${n++}`;
  await createTable(client, tableName);
  const doc = createDocumentClient(client);
  const settings = loadSettings(join(__dirname, '..', 'config', 'rolegate.example.yaml'));
  const deps: ProvisioningDeps = {
    settings,
    requests: new DynamoRequestStore(doc, tableName),
    grants: new DynamoGrantStore(doc, tableName),
    clock: systemClock,
    ids: ulidIds(),
    notifier: { notify: async () => undefined },
    queue: streamQueue,
    logger: new MemoryLogger(),
    provisioner: new RecordingProvisioner(),
    identity: new RecordingIdentityGranter(),
  };
  return { client, doc, tableName, deps };
}
