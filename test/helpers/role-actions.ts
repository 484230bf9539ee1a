import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/*
 * The DynamoDB actions each function's role holds on the table (serverless.yml),
 * in one place: the template test asserts the packaged roles hold exactly
 * these, and the recording tests that the code each function runs sends
 * nothing else. Deletes are of grant items only (a separate, conditioned
 * statement); index queries are asserted by index.
 */

export const KEYED_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
export const ITEM_ACTIONS = [...KEYED_ACTIONS, 'dynamodb:Query'];
/**
 * A ConditionCheck: the functions that approve extensions (the original is not REVOKED), and those that end
 * access (a failed attempt's IAM writes are audited while the request is unchanged).
 */
export const CONDITION_CHECK = 'dynamodb:ConditionCheckItem';
export const TABLE_ACTIONS: Record<'ApiRole' | 'WorkerRole' | 'SweeperRole' | 'ReconcilerRole', string[]> = {
  ApiRole: [...ITEM_ACTIONS, CONDITION_CHECK],
  WorkerRole: [...ITEM_ACTIONS, CONDITION_CHECK],
  // Reads by key, and queries only the due index; ends access.
  SweeperRole: [...KEYED_ACTIONS, CONDITION_CHECK],
  // Lists an account's grants with a query on the table.
  ReconcilerRole: ITEM_ACTIONS,
};

export interface SentToDynamo {
  /** Item actions on the table, as IAM names them (a transaction's parts each by its own). */
  tableActions: Set<string>;
  /** The index of each Query that named one. */
  indexes: Set<string>;
  /** The partition key of each item deleted. */
  deletedKeys: string[];
}

const ACTION_OF_PART: Record<string, string> = { Put: 'dynamodb:PutItem', Update: 'dynamodb:UpdateItem', Delete: 'dynamodb:DeleteItem', ConditionCheck: CONDITION_CHECK };
/** The client's command names, as its middleware sees them (the document client's commands send these). */
const ACTION_OF_COMMAND: Record<string, string> = {
  GetItemCommand: 'dynamodb:GetItem',
  PutItemCommand: 'dynamodb:PutItem',
  UpdateItemCommand: 'dynamodb:UpdateItem',
  DeleteItemCommand: 'dynamodb:DeleteItem',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  BatchGetItemCommand: 'dynamodb:BatchGetItem',
  BatchWriteItemCommand: 'dynamodb:BatchWriteItem',
  TransactGetItemsCommand: 'dynamodb:GetItem',
};
/** A key's partition value, marshalled ({ S: … }) or not. */
const pkOf = (key: Record<string, any> | undefined): string => String(typeof key?.pk === 'object' ? key.pk?.S : key?.pk);

/** Everything sent to DynamoDB through `doc` while `work` runs. */
export async function sentToDynamo(doc: DynamoDBDocumentClient, work: () => Promise<unknown>): Promise<SentToDynamo> {
  const sent: SentToDynamo = { tableActions: new Set(), indexes: new Set(), deletedKeys: [] };
  const name = `recordSent${Math.random().toString(36).slice(2)}`;
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? '');
      const input = args.input as Record<string, any>;
      if (command === 'TransactWriteItemsCommand') {
        for (const item of input.TransactItems as Record<string, any>[]) {
          for (const [part, body] of Object.entries(item)) {
            sent.tableActions.add(ACTION_OF_PART[part] ?? `unknown transaction part ${part}`);
            if (part === 'Delete') sent.deletedKeys.push(pkOf(body.Key));
          }
        }
      } else if (command === 'QueryCommand' && input.IndexName !== undefined) {
        sent.indexes.add(String(input.IndexName));
      } else {
        sent.tableActions.add(ACTION_OF_COMMAND[command] ?? `unknown command ${command}`);
        if (command === 'DeleteItemCommand') sent.deletedKeys.push(pkOf(input.Key));
      }
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    await work();
  } finally {
    doc.middlewareStack.remove(name);
  }
  return sent;
}

/** What a role may not send of what was sent: table actions it lacks, deletes of anything but grant items. */
export function beyondRole(sent: SentToDynamo, role: keyof typeof TABLE_ACTIONS): { actions: string[]; deletes: string[] } {
  const held = new Set([...TABLE_ACTIONS[role], 'dynamodb:DeleteItem']);
  return { actions: [...sent.tableActions].filter((a) => !held.has(a)).sort(), deletes: sent.deletedKeys.filter((k) => !k.startsWith('GRANT#')) };
}
