import { TransactionCanceledException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand, type QueryCommandInput, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { backoffMs, defaultSleep, type RetryOptions } from '../aws/retry';

/** The document client every store uses: undefined fields are dropped, not stored. */
export function createDocumentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false } });
}

/** Every item of one partition, following pagination (consistent read). */
export async function queryPartition(doc: DynamoDBDocumentClient, tableName: string, pk: string): Promise<Record<string, unknown>[]> {
  return queryAll(doc, { TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true });
}

/** Every item a query matches, following pagination. */
export async function queryAll(doc: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/** The cancellation reasons DynamoDB gives an item of a transaction it lacked the capacity for. */
const THROTTLED = new Set(['ThrottlingError', 'ProvisionedThroughputExceeded']);

/**
 * Attempts in all, and the backoff between them (full jitter below 150,
 * 300, then 500 ms): under a second of waiting at worst, well within the
 * 5 s each DynamoDB call may take (call-bounds.ts) and the 2 s a function
 * keeps for its commit after its last IAM call (lease-waits.ts).
 */
export const TRANSACTION_RETRY = { attempts: 4, baseMs: 150, maxMs: 500 } as const;

/**
 * Whether DynamoDB cancelled a transaction only for want of capacity: every
 * reason `None` or a throttling code, at least one of them throttling. A
 * failed condition or a conflicting transaction beside it would fail the
 * same way again, and is the caller's to read.
 */
export function cancelledForThrottling(e: unknown): boolean {
  if (!(e instanceof TransactionCanceledException)) return false;
  const codes = (e.CancellationReasons ?? []).map((r) => r.Code);
  return codes.some((c) => c !== undefined && THROTTLED.has(c)) && codes.every((c) => c === 'None' || (c !== undefined && THROTTLED.has(c)));
}

/**
 * One TransactWriteItems, sent again (with backoff) while DynamoDB cancels
 * it for throttling. DynamoDB reports a transaction it lacks the capacity
 * for as a TransactionCanceledException, not as the throttling error the
 * SDK's retry strategy retries, so without this a throttled commit failed
 * at once: a revoke whose IAM change was made left the request ACTIVE.
 * A cancelled transaction wrote nothing, so sending it again is safe. Each
 * attempt is sent anew, and the SDK serialises a new ClientRequestToken
 * for it: a new transaction to DynamoDB, never taken for a repeat of the
 * cancelled one under its token. (The SDK's own retries within one attempt
 * keep the token, as a timeout's must.) Any other error, and the last
 * throttling one, is the caller's.
 */
export async function transactWrite(doc: DynamoDBDocumentClient, input: TransactWriteCommandInput, options: RetryOptions = {}): Promise<void> {
  const retry = { ...TRANSACTION_RETRY, ...options };
  const sleep = retry.sleep ?? defaultSleep;
  for (let i = 1; ; i++) {
    try {
      await doc.send(new TransactWriteCommand(input));
      return;
    } catch (e) {
      if (!cancelledForThrottling(e) || i >= retry.attempts) throw e;
      await sleep(backoffMs(i, retry));
    }
  }
}
