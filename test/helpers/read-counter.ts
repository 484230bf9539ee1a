import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Counts the items DynamoDB returns to reads (GetItem, Query, Scan,
 * BatchGetItem) through a client middleware, the way a bill would.
 */
export function countReads(doc: DynamoDBDocumentClient): { items: number; calls: Record<string, number>; returnedByWrites: number; reset(): void } {
  const counter = {
    items: 0,
    calls: {} as Record<string, number>,
    /**
     * Items a write handed back (UpdateItem with ReturnValues: a lease taken returns its grant; a refused
     * conditional write, the item it was refused on): billed as the write, not as a read.
     */
    returnedByWrites: 0,
    reset() {
      counter.items = 0;
      counter.calls = {};
      counter.returnedByWrites = 0;
    },
  };
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      let result: Awaited<ReturnType<typeof next>>;
      try {
        result = await next(args);
      } catch (e) {
        // A refused conditional write hands back the item it checked (ReturnValuesOnConditionCheckFailure): one
        // refused alone carries it as Item, a transaction's in its cancellation reasons.
        const refused = e as { Item?: unknown; CancellationReasons?: Array<{ Item?: unknown }> };
        counter.returnedByWrites += (refused.Item !== undefined ? 1 : 0) + (refused.CancellationReasons ?? []).filter((r) => r.Item !== undefined).length;
        throw e;
      }
      const command = String(context.commandName ?? '');
      const out = result.output as { Item?: unknown; Items?: unknown[]; Responses?: Record<string, unknown[]> };
      let n = 0;
      if (command.startsWith('GetItem')) n = out.Item ? 1 : 0;
      else if (command.startsWith('Query') || command.startsWith('Scan')) n = out.Items?.length ?? 0;
      else if (command.startsWith('BatchGetItem')) n = Object.values(out.Responses ?? {}).reduce((s, items) => s + items.length, 0);
      else {
        if ((result.output as { Attributes?: unknown }).Attributes !== undefined) counter.returnedByWrites++;
        return result;
      }
      counter.items += n;
      counter.calls[command] = (counter.calls[command] ?? 0) + 1;
      return result;
    },
    { step: 'initialize', name: 'rolegateReadCounter' },
  );
  return counter;
}
