import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient, type QueryCommandInput, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { ConflictError, StaleWriteError, ValidationError, extendsRevokedError } from '../../domain/errors';
import type { AccessRequest, AuditEvent, Decision } from '../../domain/model';
import { IDEMPOTENCY_HOURS, claimantOf, type Claimant, type DueKind, type ListQuery, type Page, type Report, type RequestDetail, type RequestStore, type RequestWrite } from '../../domain/ports';
import { queryAll, queryPartition, transactWrite } from './client';
import {
  DECISION_SK_PREFIX,
  EVENT_SK_PREFIX,
  REQUEST_SK,
  claimKey,
  decisionItem,
  decodeCursor,
  duePk,
  encodeCursor,
  eventItem,
  principalPk,
  requestItem,
  requestKey,
  requestPk,
  statusPk,
  reportKey,
  strip,
  type ItemType,
} from './keys';

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * Queries one page may send: a filtered listing (a requester's requests in
 * one status) reads up to `limit` index items per query and keeps only the
 * matches, so a long history with few matches would otherwise be read whole
 * in one call. Past this the page ends short, with a cursor to go on.
 */
const MAX_QUERIES_PER_PAGE = 20;

/** DynamoDB's ceiling on the items of one TransactWriteItems. */
const MAX_TRANSACTION_ITEMS = 100;

/**
 * Requests a store keeps in memory as snapshots (the most recently committed
 * or read). A few KiB each at most: about 2 MiB of a Lambda's memory, and
 * enough for the requests a warm container sees between one's creation and
 * its approval.
 */
const SNAPSHOT_CAPACITY = 1_000;

/** Requests, decisions and audit events in the rolegate table. */
export class DynamoRequestStore implements RequestStore {
  /** Snapshots by id, least recently stored first (a Map keeps insertion order). */
  private readonly snapshots = new Map<string, AccessRequest>();

  constructor(
    // Public so test helpers can read the table through the same client.
    readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly snapshotCapacity = SNAPSHOT_CAPACITY,
  ) {}

  snapshot(id: string): AccessRequest | undefined {
    const kept = this.snapshots.get(id);
    // A copy: a caller that changed it would otherwise change what the next caller decides on.
    return kept && structuredClone(kept);
  }

  private remember(request: AccessRequest): void {
    // A read answered after this process's own later commit brings an older version: keep the newer.
    if ((this.snapshots.get(request.id)?.version ?? 0) > request.version) return;
    this.snapshots.delete(request.id);
    this.snapshots.set(request.id, structuredClone(request));
    if (this.snapshots.size > this.snapshotCapacity) {
      const oldest = this.snapshots.keys().next().value;
      if (oldest !== undefined) this.snapshots.delete(oldest);
    }
  }

  async commit(write: RequestWrite): Promise<void> {
    const { request, expectedVersion, decision, events, unlessRevoked, claim } = write;
    const creating = expectedVersion === undefined;
    assertWellFormed(write);

    // Index 0 is the request and index 1 the decision (when present): the cancellation reasons below are read by position.
    const items: TransactItems = [
      {
        Put: {
          TableName: this.tableName,
          Item: requestItem(request),
          ConditionExpression: creating ? 'attribute_not_exists(pk)' : '#version = :expected',
          // A write on a version that moved on hands back the request as stored (billed as this write, not as a
          // read), so whoever decides again needs no read first.
          ...(creating
            ? {}
            : { ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':expected': expectedVersion }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const }),
        },
      },
    ];
    if (decision) items.push(this.putNew(decisionItem(decision)));
    for (const e of events) items.push(this.putNew(eventItem(e)));
    const claimIndex = claim !== undefined && creating ? items.push(this.claimPut(request, claim)) - 1 : undefined;
    // Last, so its cancellation reason is the last one.
    if (unlessRevoked !== undefined) {
      items.push({
        ConditionCheck: {
          TableName: this.tableName,
          Key: requestKey(unlessRevoked),
          ConditionExpression: 'attribute_exists(pk) AND #status <> :revoked',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':revoked': 'REVOKED' },
        },
      });
    }

    try {
      // Sent again while DynamoDB cancels it only for throttling; what is left to read below is final.
      await transactWrite(this.doc, { TransactItems: items });
    } catch (e) {
      const reasons = e instanceof TransactionCanceledException ? (e.CancellationReasons ?? []) : [];
      const refused = reasons[0]?.Code === 'ConditionalCheckFailed' ? reasons[0] : undefined;
      if (refused?.Item && !creating) {
        // The request as the refusal found it: remembered unless this process holds a newer one (a concurrent call's).
        // The reasons are DynamoDB's own attribute values: the document client converts only what a call returns.
        const found = strip<AccessRequest>(unmarshall(refused.Item));
        this.remember(found);
        throw new StaleWriteError('changed', undefined, found);
      }
      // Whatever else went wrong, the stored request may not be what this process last saw.
      this.snapshots.delete(request.id);
      if (!(e instanceof TransactionCanceledException)) throw e;
      if (refused) {
        if (creating) throw new ConflictError('A request with this id already exists.');
        throw new StaleWriteError('changed');
      }
      if (claimIndex !== undefined && reasons[claimIndex]?.Code === 'ConditionalCheckFailed') {
        throw new ConflictError(`${request.requester} already used this idempotency key in the last ${IDEMPOTENCY_HOURS} hours.`);
      }
      if (unlessRevoked !== undefined && reasons[items.length - 1]?.Code === 'ConditionalCheckFailed') {
        throw extendsRevokedError(request.id, unlessRevoked);
      }
      if (decision && reasons[1]?.Code === 'ConditionalCheckFailed') {
        throw new ConflictError(`${decision.approver} has already decided on this request.`, [{ field: 'approvals', reason: 'already include the caller' }]);
      }
      // Another transaction held one of these items: the request may have moved on, so re-read and decide again.
      if (reasons.some((r) => r.Code === 'TransactionConflict')) throw new StaleWriteError('contended');
      throw e;
    }
    this.remember(request);
  }

  async get(id: string): Promise<AccessRequest | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: requestKey(id), ConsistentRead: true }));
    if (!out.Item) {
      this.snapshots.delete(id);
      return undefined;
    }
    const request = strip<AccessRequest>(out.Item);
    this.remember(request);
    return request;
  }

  /** One query on the request's partition: the request, its decisions and its events (in time order, as the sort key has them). */
  async getDetail(id: string): Promise<RequestDetail | undefined> {
    let request: AccessRequest | undefined;
    const decisions: Decision[] = [];
    const events: AuditEvent[] = [];
    for (const item of await queryPartition(this.doc, this.tableName, requestPk(id))) {
      const sk = String(item.sk);
      if (sk === REQUEST_SK) request = strip<AccessRequest>(item);
      else if (sk.startsWith(DECISION_SK_PREFIX)) decisions.push(strip<Decision>(item));
      else if (sk.startsWith(EVENT_SK_PREFIX)) events.push(strip<AuditEvent>(item));
    }
    if (!request) {
      this.snapshots.delete(id);
      return undefined;
    }
    this.remember(request);
    // Decisions sort by approver in the partition; callers read them in the order they were made.
    decisions.sort((a, b) => a.at.localeCompare(b.at));
    return { request, decisions, events };
  }

  /**
   * Newest first, from byPrincipal when a requester is given (a status then
   * filters) or from byStatus. Listing everything would need a scan or a hot
   * partition, so one of the two filters is required.
   */
  async list(query: ListQuery): Promise<Page<AccessRequest>> {
    assertLimit(query.limit);
    if (query.requester) {
      const partition = principalPk(query.requester);
      return this.page(
        {
          TableName: this.tableName,
          IndexName: 'byPrincipal',
          KeyConditionExpression: 'gsi2pk = :p',
          ExpressionAttributeValues: { ':p': partition, ...(query.status ? { ':s': query.status } : {}) },
          ...(query.status ? { FilterExpression: '#status = :s', ExpressionAttributeNames: { '#status': 'status' } } : {}),
        },
        decodeCursor(query.cursor, ['pk', 'sk', 'gsi2pk', 'gsi2sk'], { sk: REQUEST_SK, gsi2pk: partition }),
        query.limit,
        false,
      );
    }
    if (query.status) {
      const partition = statusPk(query.status);
      return this.page(
        {
          TableName: this.tableName,
          IndexName: 'byStatus',
          KeyConditionExpression: 'gsi1pk = :s',
          ExpressionAttributeValues: { ':s': partition },
        },
        decodeCursor(query.cursor, ['pk', 'sk', 'gsi1pk', 'gsi1sk'], { sk: REQUEST_SK, gsi1pk: partition }),
        query.limit,
        false,
      );
    }
    throw new ValidationError('Filter by status or by requester.');
  }

  async extensionsOf(id: string): Promise<AccessRequest[]> {
    const items = await queryAll(this.doc, { TableName: this.tableName, IndexName: 'byExtends', KeyConditionExpression: 'extendsRequestId = :id', ExpressionAttributeValues: { ':id': id } });
    return items.filter(isRequestItem).map((item) => strip<AccessRequest>(item));
  }

  /**
   * Due work strictly before `before`, oldest first, from the sparse due
   * index. The sort key is `<due time>#<id>`, so `duesk < before` keeps an
   * item due exactly at `before` for the next sweep.
   */
  async listDue(kind: DueKind, before: string, limit: number, cursor?: string): Promise<Page<AccessRequest>> {
    assertLimit(limit);
    const partition = duePk(kind);
    return this.page(
      {
        TableName: this.tableName,
        IndexName: 'byDue',
        KeyConditionExpression: 'duepk = :k AND duesk < :before',
        // Normalised to toISOString's form: '…:00Z' would otherwise sort after '…:00.000Z' and widen the window.
        ExpressionAttributeValues: { ':k': partition, ':before': isoInstant(before) },
      },
      decodeCursor(cursor, ['pk', 'sk', 'duepk', 'duesk'], { sk: REQUEST_SK, duepk: partition }),
      limit,
      true,
    );
  }

  /**
   * The events of a finding, with its report item (REPORT#<subject>), in one
   * transaction whose first item is the report's, conditioned on the finding
   * being due: none yet, another fingerprint, written longer ago than its
   * quiet hours, or not seen for its lapse. Refused on that condition alone,
   * the finding is quiet: the item records it as seen, and nothing else is
   * written. (Unlike appendEvents, a refusal on the events is an error: their
   * ids are new at every call, and the SDK's client token makes a resent
   * transaction DynamoDB's own idempotent replay.)
   */
  async appendReport(events: AuditEvent[], report: Report): Promise<boolean> {
    this.assertAppendable(events, 1);
    const at = (hours: number) => new Date(Date.parse(report.at) - hours * 3_600_000).toISOString();
    const key = reportKey(report.subject);
    const marker = {
      Put: {
        TableName: this.tableName,
        Item: { ...key, type: 'report' satisfies ItemType, fingerprint: report.fingerprint, reportedAt: report.at, lastSeenAt: report.at, expiresAt: epochSeconds(report.at) + report.quietHours * 3600 },
        // TTL deletes lazily: the times decide, not whether the item is still there.
        ConditionExpression: 'attribute_not_exists(pk) OR fingerprint <> :fingerprint OR reportedAt <= :quietSince OR lastSeenAt <= :lapsedSince',
        ExpressionAttributeValues: { ':fingerprint': report.fingerprint, ':quietSince': at(report.quietHours), ':lapsedSince': at(report.lapseMinutes / 60) },
      },
    };
    try {
      await transactWrite(this.doc, { TransactItems: [marker, ...events.map((e) => this.putNew(eventItem(e)))] });
      return true;
    } catch (e) {
      const quiet = e instanceof TransactionCanceledException && e.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed' && e.CancellationReasons.slice(1).every((r) => r.Code === 'None');
      if (!quiet) throw e;
    }
    // Seen again: a lapse is counted from now. Another finding written meanwhile keeps its own record.
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: 'SET lastSeenAt = :at',
          ConditionExpression: 'fingerprint = :fingerprint',
          ExpressionAttributeValues: { ':at': report.at, ':fingerprint': report.fingerprint },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
    return false;
  }

  /**
   * Writes audit events that change no state, all or none. An event already
   * stored under the same key (its id is unique) is a replay of this very
   * write whose answer was lost, so it counts as written.
   */
  async appendEvents(events: AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    this.assertAppendable(events, 0);
    const [only] = events;
    if (events.length === 1 && only) {
      try {
        await this.doc.send(new PutCommand(this.putNew(eventItem(only)).Put));
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
      return;
    }
    try {
      await transactWrite(this.doc, { TransactItems: events.map((e) => this.putNew(eventItem(e))) });
    } catch (e) {
      const replay = e instanceof TransactionCanceledException && e.CancellationReasons?.every((r) => r.Code === 'ConditionalCheckFailed');
      if (!replay) throw e;
    }
  }

  /** The events, in one transaction with a check that the request is still at the version given; nothing once it moved on. */
  async appendEventsWhileAt(events: AuditEvent[], at: Pick<AccessRequest, 'id' | 'version'>): Promise<void> {
    if (events.length === 0) return;
    this.assertAppendable(events, 1);
    const check = {
      ConditionCheck: {
        TableName: this.tableName,
        Key: requestKey(at.id),
        ConditionExpression: '#version = :version',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':version': at.version },
      },
    };
    try {
      await transactWrite(this.doc, { TransactItems: [...events.map((e) => this.putNew(eventItem(e))), check] });
    } catch (e) {
      // The request moved on, or these events are stored already (a replay): either way there is nothing to add.
      const reasons = e instanceof TransactionCanceledException ? (e.CancellationReasons ?? []) : [];
      const settled = reasons.length > 0 && (reasons.at(-1)?.Code === 'ConditionalCheckFailed' || reasons.slice(0, -1).every((r) => r.Code === 'ConditionalCheckFailed'));
      if (!settled) throw e;
    }
  }

  /** Events one transaction can hold beside `others` items, distinct. */
  private assertAppendable(events: AuditEvent[], others: number): void {
    if (events.length + others > MAX_TRANSACTION_ITEMS) {
      // Chunks would not be all-or-nothing, and a retried chunk would collide with the one already written.
      throw new Error(`${events.length} audit events${others ? ` and ${others} more items` : ''} exceed the ${MAX_TRANSACTION_ITEMS} a DynamoDB transaction may hold`);
    }
    assertDistinctEvents(events);
  }

  /** The claim of an idempotency key, taken unless a live one holds it (an expired one waits for TTL's sweep, up to days). */
  private claimPut(request: AccessRequest, key: string) {
    const at = epochSeconds(request.createdAt);
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...claimKey(claimantOf(request), key), type: 'claim' satisfies ItemType, requestId: request.id, requester: request.requester, createdAt: request.createdAt, expiresAt: at + IDEMPOTENCY_HOURS * 3600 },
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
        ExpressionAttributeValues: { ':now': at },
      },
    };
  }

  async claimed(claimant: Claimant, key: string, at: string): Promise<string | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: claimKey(claimant, key), ConsistentRead: true }));
    const item = out.Item as { requestId?: string; expiresAt?: number } | undefined;
    return item?.requestId !== undefined && (item.expiresAt ?? 0) > epochSeconds(at) ? item.requestId : undefined;
  }

  private putNew(item: Record<string, unknown>) {
    return { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } };
  }

  /** Reads until `limit` items, the end, or MAX_QUERIES_PER_PAGE queries; a filtered query may need several. */
  private async page(input: QueryCommandInput, start: Record<string, unknown> | undefined, limit: number, ascending: boolean): Promise<Page<AccessRequest>> {
    const items: AccessRequest[] = [];
    let next = start;
    let queries = 0;
    do {
      queries++;
      const out = await this.doc.send(
        new QueryCommand({ ...input, ScanIndexForward: ascending, Limit: limit - items.length, ...(next ? { ExclusiveStartKey: next } : {}) }),
      );
      for (const item of out.Items ?? []) if (isRequestItem(item)) items.push(strip<AccessRequest>(item));
      next = out.LastEvaluatedKey;
    } while (next && items.length < limit && queries < MAX_QUERIES_PER_PAGE);
    const cursor = encodeCursor(next);
    return { items, ...(cursor ? { cursor } : {}) };
  }
}

/**
 * An index entry is a request only when its key says so: the indexes hold
 * whatever carries their key attributes, and the Slack function may write
 * items of its own. Should one carry a due or status key (its IAM statement
 * allows only a job's attributes), it is never taken for a request to
 * provision, expire or list.
 */
function isRequestItem(item: Record<string, unknown>): boolean {
  return item.type === 'request' && item.sk === REQUEST_SK && typeof item.id === 'string' && item.pk === requestPk(item.id);
}

/*
 * Programmer errors, caught before DynamoDB would refuse the transaction
 * with a less telling ValidationException (or, for a decision filed under
 * another request, accept it in the wrong partition).
 */
function assertWellFormed(write: RequestWrite): void {
  const { request, expectedVersion, decision, events } = write;
  const wanted = expectedVersion === undefined ? 1 : expectedVersion + 1;
  if (request.version !== wanted) {
    throw new Error(`commit: version ${request.version} of request ${request.id} does not follow ${expectedVersion ?? 'creation'} (expected ${wanted})`);
  }
  if (decision && decision.requestId !== request.id) {
    throw new Error(`commit: the decision is for request ${decision.requestId}, not ${request.id}`);
  }
  // Every item commit() puts in the transaction: the claim of a creation's idempotency key too.
  const count = 1 + (decision ? 1 : 0) + events.length + (write.unlessRevoked !== undefined ? 1 : 0) + (write.claim !== undefined && expectedVersion === undefined ? 1 : 0);
  if (count > MAX_TRANSACTION_ITEMS) {
    throw new Error(`commit: ${count} items exceed the ${MAX_TRANSACTION_ITEMS} a DynamoDB transaction may hold`);
  }
  assertDistinctEvents(events);
}

function assertDistinctEvents(events: AuditEvent[]): void {
  const keys = new Set(events.map((e) => `${e.requestId}\u0000${e.at}\u0000${e.id}`));
  // DynamoDB refuses a transaction that touches one item twice.
  if (keys.size !== events.length) throw new Error('two audit events in one write share the same request, time and id');
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ValidationError('The limit must be a whole number of at least 1.', [{ field: 'limit', reason: 'must be a whole number of at least 1' }]);
  }
}

function isoInstant(value: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`listDue: ${JSON.stringify(value)} is not an ISO-8601 instant`);
  return new Date(ms).toISOString();
}

const epochSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
