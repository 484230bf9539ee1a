import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FaultSchedule } from './fault-schedule';

/*
 * DynamoDB faults: a middleware on the harness document client's stack
 * (shared with its DynamoDB client) numbers every call by the document
 * client's command name and makes the scheduled one misbehave. It sits in
 * the build step, after serialisation and before the SDK's own retries, so
 * an injected error is what rolegate sees once the SDK has given up, and a
 * replay re-sends the very request the SDK would retry (same
 * ClientRequestToken for a transaction).
 */

const DOCUMENT_NAMES: Record<string, string> = {
  GetItemCommand: 'GetCommand',
  PutItemCommand: 'PutCommand',
  UpdateItemCommand: 'UpdateCommand',
  DeleteItemCommand: 'DeleteCommand',
  QueryCommand: 'QueryCommand',
  ScanCommand: 'ScanCommand',
  TransactWriteItemsCommand: 'TransactWriteItemsCommand',
  TransactGetItemsCommand: 'TransactGetItemsCommand',
};

const NAME = 'rolegateFaultInjection';

/** Installs the fault middleware; returns its removal. */
export function injectDynamoFaults(doc: DynamoDBDocumentClient, schedule: FaultSchedule): () => void {
  doc.middlewareStack.add(
    (next: any, context: any) => async (args: any) => {
      const command = DOCUMENT_NAMES[context.commandName] ?? context.commandName;
      const fault = schedule.next('dynamodb', command);
      if (!fault) return next(args);
      if (fault.effect === 'before') {
        if (fault.outcome === 'halt') return schedule.halt();
        throw fault.error!();
      }
      // The request reaches DynamoDB and takes effect (or is refused, as it would be)...
      await next(args).catch(() => undefined);
      // ...and then its answer is lost.
      if (fault.outcome === 'halt') return schedule.halt();
      if (fault.outcome === 'replay') return next(args);
      throw fault.error!();
    },
    { step: 'build', name: NAME, override: true },
  );
  return () => void doc.middlewareStack.remove(NAME);
}

/**
 * Cancels the next `times` TransactWriteItems as DynamoDB cancels one it
 * lacks the capacity for: a TransactionCanceledException (HTTP 400) with
 * one reason per item, from `codes` (by default ThrottlingError for the
 * first item, None for the rest). It sits in the deserialize step, inside
 * the SDK's retries, so the SDK's own strategy sees the cancellation as it
 * would DynamoDB's answer. `sent` counts every TransactWriteItems that
 * reached it, the SDK's retries included; `cancelled`, those it cancelled.
 */
export function cancelTransactions(
  doc: DynamoDBDocumentClient,
  times: number,
  codes: (items: number) => string[] = (items) => ['ThrottlingError', ...Array.from({ length: items - 1 }, () => 'None')],
): { sent: number; cancelled: number } {
  const seen = { sent: 0, cancelled: 0 };
  doc.middlewareStack.add(
    (next: any, context: any) => async (args: any) => {
      if (context.commandName !== 'TransactWriteItemsCommand') return next(args);
      seen.sent++;
      if (seen.cancelled >= times) return next(args);
      seen.cancelled++;
      const reasons = codes((args.input.TransactItems as unknown[]).length).map((Code) => ({ Code }));
      throw new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        $metadata: { httpStatusCode: 400 },
        CancellationReasons: reasons,
      });
    },
    { step: 'deserialize', name: 'rolegateCancelTransactions' },
  );
  return seen;
}
