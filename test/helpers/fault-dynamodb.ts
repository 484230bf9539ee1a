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
