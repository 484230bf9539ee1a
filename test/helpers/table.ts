import { ScanCommand as RawScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Harness } from './harness';

/** A harness or a store fixture: what reading the whole table takes. */
type Table = Pick<Harness, 'tableName'> & { requests: Pick<Harness['requests'], 'doc'> };

/** Every item in the test table (a test-side check only; the product never scans). */
export async function allItems(h: Table): Promise<Record<string, unknown>[]> {
  return scanAll(h, ScanCommand) as Promise<Record<string, unknown>[]>;
}

/** Every item as DynamoDB holds it (attribute-value maps, as a stream image carries them). */
export async function allRawItems(h: Table): Promise<Record<string, AttributeValue>[]> {
  return scanAll(h, RawScanCommand) as Promise<Record<string, AttributeValue>[]>;
}

async function scanAll(h: Table, Command: typeof ScanCommand | typeof RawScanCommand): Promise<unknown[]> {
  const items: unknown[] = [];
  let start: Record<string, never> | undefined;
  do {
    const out = (await h.requests.doc.send(new Command({ TableName: h.tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }) as never)) as {
      Items?: unknown[];
      LastEvaluatedKey?: Record<string, never>;
    };
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}
