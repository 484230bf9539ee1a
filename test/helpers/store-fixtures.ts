import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../src/adapters/dynamodb/client';
import { DynamoGrantStore } from '../../src/adapters/dynamodb/grant-store';
import { DynamoRequestStore } from '../../src/adapters/dynamodb/request-store';
import type { AccessRequest, AuditAction, AuditEvent, Decision, Grant, RequestStatus } from '../../src/domain/model';
import type { RequestWrite } from '../../src/domain/ports';
import { freshTable } from './dynamo';

/*
 * Fixtures for the store adapters' own tests: plain domain objects with
 * readable defaults, and a fresh table on the run's DynamoDB Local engine
 * with both stores wired to it. No domain logic: the stores are tested on
 * what they are given.
 */

export const T0 = '2026-03-02T09:00:00.000Z';

/** T0 moved by whole minutes, in the form the domain writes (toISOString). */
export const minutes = (n: number, from = T0): string => new Date(Date.parse(from) + n * 60_000).toISOString();

let counter = 0;
/** A unique id with a readable prefix; sorted by creation within a test run. */
export const nextId = (prefix = 'req'): string => `${prefix}-${String(++counter).padStart(6, '0')}`;

export const alice = 'arn:aws:iam::111111111111:user/Alice';
export const bob = 'arn:aws:iam::111111111111:user/Bob';
export const carol = 'arn:aws:iam::111111111111:user/Carol';

export function aRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  const createdAt = overrides.createdAt ?? T0;
  return {
    id: nextId(),
    version: 1,
    status: 'PENDING',
    requester: alice,
    principalArn: alice,
    accountId: '222222222222',
    accountAlias: 'staging',
    profile: 'ReadOnly',
    ruleId: 'staging-read',
    durationMinutes: 60,
    reason: 'investigate INC-42',
    approvalsRequired: 1,
    approvals: [],
    createdAt,
    updatedAt: createdAt,
    decisionDeadline: minutes(24 * 60, createdAt),
    ...overrides,
  };
}

export function anEvent(request: Pick<AccessRequest, 'id'>, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { id: nextId('evt'), requestId: request.id, at: T0, actor: alice, action: 'REQUESTED', to: 'PENDING', ...overrides };
}

export function aDecision(request: Pick<AccessRequest, 'id'>, overrides: Partial<Decision> = {}): Decision {
  return { requestId: request.id, approver: bob, decision: 'APPROVE', at: T0, via: 'api', ...overrides };
}

/** The write that creates `request`, with its REQUESTED event. */
export function creation(request: AccessRequest): RequestWrite {
  return { request, events: [anEvent(request, { at: request.createdAt, actor: request.requester })] };
}

/** The write that moves `from` to the next version with `changes`, explained by one event. */
export function transition(
  from: AccessRequest,
  changes: Partial<AccessRequest> & { status?: RequestStatus },
  options: { at?: string; actor?: string; action?: AuditAction; decision?: Decision } = {},
): RequestWrite {
  const at = options.at ?? minutes(1, from.updatedAt);
  const request: AccessRequest = { ...from, ...changes, version: from.version + 1, updatedAt: at };
  const event = anEvent(from, { at, actor: options.actor ?? bob, action: options.action ?? 'APPROVED', from: from.status, to: request.status });
  return { request, expectedVersion: from.version, events: [event], ...(options.decision ? { decision: options.decision } : {}) };
}

export function aGrant(overrides: Partial<Grant> = {}): Grant {
  const accountId = overrides.accountId ?? '222222222222';
  const roleName = overrides.roleName ?? `rolegate-ReadOnly-${nextId('role')}`;
  return {
    grantKey: `${accountId}#${roleName}`,
    accountId,
    roleName,
    principalArn: alice,
    profile: 'ReadOnly',
    members: { [nextId()]: minutes(60) },
    roleArn: `arn:aws:iam::${accountId}:role/rolegate/${roleName}`,
    version: 1,
    updatedAt: T0,
    ...overrides,
  };
}

export interface StoreTable {
  doc: DynamoDBDocumentClient;
  tableName: string;
  requests: DynamoRequestStore;
  grants: DynamoGrantStore;
  drop(): Promise<void>;
}

/** Both stores on a fresh table of their own, through the production document client factory. */
export async function storeTable(): Promise<StoreTable> {
  const table = await freshTable();
  const doc = createDocumentClient(table.client);
  return {
    doc,
    tableName: table.tableName,
    requests: new DynamoRequestStore(doc, table.tableName),
    grants: new DynamoGrantStore(doc, table.tableName),
    drop: table.drop,
  };
}

/** Runs `work` over `inputs` with at most `width` calls in flight (DynamoDB Local copes better than with hundreds at once). */
export async function inBatches<T>(inputs: T[], width: number, work: (input: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, inputs.length) }, async () => {
      while (next < inputs.length) await work(inputs[next++]!);
    }),
  );
}

export interface RecordedRead {
  command: string;
  indexName?: string;
  count: number;
  scannedCount: number;
}

/**
 * Records every read the document client sends (command, index, items
 * returned and items DynamoDB examined), the way the bill would count them.
 */
export function recordReads(doc: DynamoDBDocumentClient): RecordedRead[] {
  const reads: RecordedRead[] = [];
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const command = String(context.commandName ?? '');
      if (/^(Query|Scan|GetItem|BatchGetItem)/.test(command)) {
        const input = args.input as { IndexName?: string };
        const out = result.output as { Count?: number; ScannedCount?: number; Item?: unknown };
        reads.push({
          command,
          ...(input.IndexName ? { indexName: input.IndexName } : {}),
          count: out.Count ?? (out.Item ? 1 : 0),
          scannedCount: out.ScannedCount ?? (out.Item ? 1 : 0),
        });
      }
      return result;
    },
    { step: 'initialize', name: 'rolegateStoreReadRecorder' },
  );
  return reads;
}
