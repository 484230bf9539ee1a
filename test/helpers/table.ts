import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Harness } from './harness';

/** Every item in the test table (a test-side check only; the product never scans). */
export async function allItems(h: Harness): Promise<Record<string, unknown>[]> {
  const client = (h.requests as unknown as { doc: { send: (c: unknown) => Promise<{ Items?: Record<string, unknown>[] }> } }).doc;
  const out = await client.send(new ScanCommand({ TableName: h.tableName, ConsistentRead: true }));
  return out.Items ?? [];
}
