import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Harness } from './harness';

/** Every item in the test table (a test-side check only; the product never scans). */
export async function allItems(h: Harness): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await h.requests.doc.send(new ScanCommand({ TableName: h.tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}
