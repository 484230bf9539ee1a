import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cancelledForThrottling, transactWrite } from '../../../src/adapters/dynamodb/client';

/*
 * The waits between attempts of a transaction DynamoDB keeps cancelling for
 * throttling. Against DynamoDB Local, test/integration/store/request-store-commit.test.ts.
 */

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: { httpStatusCode: 400 }, CancellationReasons: codes.map((Code) => ({ Code })) });

/** A document client whose every transaction DynamoDB cancels with `error`. */
function refusing(error: Error): { doc: DynamoDBDocumentClient; sent: () => number } {
  let sent = 0;
  const doc = {
    send: async () => {
      sent++;
      throw error;
    },
  };
  return { doc: doc as unknown as DynamoDBDocumentClient, sent: () => sent };
}

it('waits a jittered, doubling, capped time between four attempts, under a second in all', async () => {
  const { doc, sent } = refusing(cancelled('ThrottlingError', 'None'));
  const waits: number[] = [];
  const worst: number[] = [];

  await expect(transactWrite(doc, { TransactItems: [] }, { random: () => 0.5, sleep: async (ms) => void waits.push(ms) })).rejects.toBeInstanceOf(TransactionCanceledException);
  await expect(transactWrite(doc, { TransactItems: [] }, { random: () => 0.999999, sleep: async (ms) => void worst.push(ms) })).rejects.toBeInstanceOf(TransactionCanceledException);

  expect(sent()).toBe(8);
  expect(waits).toEqual([75, 150, 250]);
  expect(worst).toEqual([149, 299, 499]);
  // Well within the 5 s one DynamoDB call may take (call-bounds.ts).
  expect(worst.reduce((a, b) => a + b)).toBe(947);
});

it.each([
  [['ThrottlingError', 'None'], true],
  [['None', 'ProvisionedThroughputExceeded', 'ThrottlingError'], true],
  [['None', 'None'], false],
  [['ThrottlingError', 'ConditionalCheckFailed'], false],
  [['TransactionConflict', 'ThrottlingError'], false],
  [['ThrottlingError', 'ValidationError'], false],
  [[], false],
])('takes reasons %j for throttling only: %s', (codes, throttled) => {
  expect(cancelledForThrottling(cancelled(...codes))).toBe(throttled);
});

it('takes no other error for a throttled transaction, and sends it once', async () => {
  const throttling = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
  const { doc, sent } = refusing(throttling);

  await expect(transactWrite(doc, { TransactItems: [] }, { sleep: async () => undefined })).rejects.toBe(throttling);

  // A throttling error the SDK knows as such is the SDK's to retry, inside one attempt.
  expect(sent()).toBe(1);
  expect(cancelledForThrottling(throttling)).toBe(false);
});
