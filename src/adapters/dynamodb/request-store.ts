import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConflictError, StaleWriteError, ValidationError } from '../../domain/errors';
import type { AccessRequest, AuditEvent, Decision } from '../../domain/model';
import type { DueKind, ListQuery, Page, RequestDetail, RequestStore, RequestWrite } from '../../domain/ports';
import { queryPartition } from './client';
import { decisionItem, decodeCursor, encodeCursor, eventItem, requestItem, requestKey, strip } from './keys';

type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

/** Requests, decisions and audit events in the rolegate table. */
export class DynamoRequestStore implements RequestStore {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async commit(write: RequestWrite): Promise<void> {
    const { request, expectedVersion, decision, events } = write;
    const creating = expectedVersion === undefined;
    if (request.version !== (creating ? 1 : expectedVersion + 1)) {
      throw new Error(`commit: version ${request.version} does not follow ${expectedVersion ?? 'creation'}`);
    }
    const items: TransactItems = [
      {
        Put: {
          TableName: this.tableName,
          Item: requestItem(request),
          ConditionExpression: creating ? 'attribute_not_exists(pk)' : '#version = :expected',
          ...(creating ? {} : { ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':expected': expectedVersion } }),
        },
      },
    ];
    if (decision) items.push({ Put: { TableName: this.tableName, Item: decisionItem(decision), ConditionExpression: 'attribute_not_exists(pk)' } });
    for (const e of events) items.push({ Put: { TableName: this.tableName, Item: eventItem(e), ConditionExpression: 'attribute_not_exists(pk)' } });

    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e) {
      if (!(e instanceof TransactionCanceledException)) throw e;
      const reasons = e.CancellationReasons ?? [];
      if (reasons[0]?.Code === 'ConditionalCheckFailed') {
        if (creating) throw new ConflictError(`A request with id ${request.id} already exists.`);
        throw new StaleWriteError();
      }
      if (decision && reasons[1]?.Code === 'ConditionalCheckFailed') {
        throw new ConflictError(`${decision.approver} has already decided on request ${decision.requestId}.`);
      }
      if (reasons.some((r) => r.Code === 'TransactionConflict')) throw new StaleWriteError();
      throw e;
    }
  }

  async get(id: string): Promise<AccessRequest | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: requestKey(id), ConsistentRead: true }));
    return out.Item ? strip<AccessRequest>(out.Item) : undefined;
  }

  /** One query on the request's partition: the request, its decisions and its events. */
  async getDetail(id: string): Promise<RequestDetail | undefined> {
    let request: AccessRequest | undefined;
    const decisions: Decision[] = [];
    const events: AuditEvent[] = [];
    for (const item of await queryPartition(this.doc, this.tableName, `REQ#${id}`)) {
      const sk = String(item.sk);
      if (sk === '#REQUEST') request = strip<AccessRequest>(item);
      else if (sk.startsWith('DECISION#')) decisions.push(strip<Decision>(item));
      else if (sk.startsWith('EVENT#')) events.push(strip<AuditEvent>(item));
    }
    if (!request) return undefined;
    decisions.sort((a, b) => a.at.localeCompare(b.at));
    return { request, decisions, events };
  }

  async list(query: ListQuery): Promise<Page<AccessRequest>> {
    let input: QueryCommandInput;
    let indexKeys: string[];
    if (query.requester) {
      indexKeys = ['pk', 'sk', 'gsi2pk', 'gsi2sk'];
      input = {
        TableName: this.tableName,
        IndexName: 'byPrincipal',
        KeyConditionExpression: 'gsi2pk = :p',
        ExpressionAttributeValues: { ':p': `PRINCIPAL#${query.requester.toLowerCase()}`, ...(query.status ? { ':s': query.status } : {}) },
        ...(query.status ? { FilterExpression: '#status = :s', ExpressionAttributeNames: { '#status': 'status' } } : {}),
      };
    } else if (query.status) {
      indexKeys = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];
      input = {
        TableName: this.tableName,
        IndexName: 'byStatus',
        KeyConditionExpression: 'gsi1pk = :s',
        ExpressionAttributeValues: { ':s': `STATUS#${query.status}` },
      };
    } else {
      throw new ValidationError('Filter by status or by requester.');
    }
    return this.page(input, indexKeys, query.limit, query.cursor, false);
  }

  /** Due work strictly before `before`, oldest first, from the sparse due index. */
  async listDue(kind: DueKind, before: string, limit: number, cursor?: string): Promise<Page<AccessRequest>> {
    return this.page(
      {
        TableName: this.tableName,
        IndexName: 'byDue',
        KeyConditionExpression: 'duepk = :k AND duesk < :before',
        ExpressionAttributeValues: { ':k': `DUE#${kind}`, ':before': before },
      },
      ['pk', 'sk', 'duepk', 'duesk'],
      limit,
      cursor,
      true,
    );
  }

  async appendEvents(events: AuditEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 100) {
      const chunk = events.slice(i, i + 100);
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: chunk.map((e) => ({ Put: { TableName: this.tableName, Item: eventItem(e), ConditionExpression: 'attribute_not_exists(pk)' } })),
        }),
      );
    }
  }

  /** Reads until `limit` items or the end; a filtered query may need several reads. */
  private async page(input: QueryCommandInput, indexKeys: string[], limit: number, cursor: string | undefined, ascending: boolean): Promise<Page<AccessRequest>> {
    const items: AccessRequest[] = [];
    let start = decodeCursor(cursor, indexKeys);
    do {
      const out = await this.doc.send(
        new QueryCommand({ ...input, ScanIndexForward: ascending, Limit: limit - items.length, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      for (const item of out.Items ?? []) items.push(strip<AccessRequest>(item));
      start = out.LastEvaluatedKey;
    } while (start && items.length < limit);
    const next = encodeCursor(start);
    return { items, ...(next ? { cursor: next } : {}) };
  }
}
