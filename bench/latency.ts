import type { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { claimKey, decisionItem, eventItem, requestItem, requestKey } from '../src/adapters/dynamodb/keys';
import { composeApp } from '../src/compose';
import { readEnv } from '../src/environment';
import type { AccessRequest } from '../src/domain/model';
import { claimantOf, IDEMPOTENCY_HOURS } from '../src/domain/ports';
import type { Settings } from '../src/domain/settings';
import { apiHandler } from '../src/handlers/http/lambda';
import type { RunningDynamo } from '../src/local/dynamodb-local';
import { apiEvent, lambdaContext } from '../test/helpers/events';
import { benchDeps } from './env';
import { summary } from './stats';

const ALICE = 'arn:aws:iam::111111111111:user/alice';
const ANNA = 'arn:aws:iam::111111111111:user/lead-anna';
const BEN = 'arn:aws:iam::111111111111:user/lead-ben';

export interface LatencyRow {
  name: string;
  n: number;
  handler: { p50: number; p99: number };
  raw: { p50: number; p99: number };
  /** The same DynamoDB work done raw, when the handler needs more than the one write (`why`). */
  sameWork?: { why: string; label: string; p50: number; p99: number };
}

function sampleRequest(id: string): AccessRequest {
  const now = new Date().toISOString();
  return {
    id, version: 1, status: 'PENDING', requester: ALICE, principalArn: ALICE, accountId: '333333333333', accountAlias: 'production',
    profile: 'EC2Admin', ruleId: 'admin-two-approvals', durationMinutes: 60, reason: 'Resize the web fleet', approvalsRequired: 2,
    approvals: [], createdAt: now, updatedAt: now, decisionDeadline: now,
  };
}

/**
 * POST /requests and approve through the API's Lambda handler as deployed (the whole middy chain, the run-time wrapper, the logger and the metrics flush) on DynamoDB
 * Local, each against one raw TransactWriteItems of the same items on the
 * same engine, interleaved so both see the same machine state. Approve is
 * measured three ways: in the container that wrote the request (it decides on
 * its snapshot and sends only the transaction), in a container new to
 * the request (another store on the same table: it must read it first), and
 * in the container that wrote it after another container approved it too
 * (its snapshot is stale: the transaction fails on the version, handing
 * back the request as stored, and it writes again on that).
 */
export async function latency(dynamo: RunningDynamo, n: number): Promise<LatencyRow[]> {
  // The functions' log and metric lines go where Lambda's would, out of the process (here /dev/null), not to the bench's table.
  const sink = openSync('/dev/null', 'w');
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((s) => s.write);
  for (const s of streams) {
    s.write = ((chunk: string | Uint8Array) => {
      writeSync(sink, typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      return true;
    }) as typeof s.write;
  }
  try {
    return await measure(dynamo, n);
  } finally {
    streams.forEach((s, i) => (s.write = writes[i]!));
    closeSync(sink);
  }
}

async function measure(dynamo: RunningDynamo, n: number): Promise<LatencyRow[]> {
  const { deps, doc, tableName } = await benchDeps(dynamo);
  /**
   * A Lambda container of the api function as deployed (its environment, so its Powertools logger,
   * EMF metrics flushed at each call, and the handler's run-time wrapper): the same table, a store,
   * and so snapshots, of its own.
   */
  const env = readEnv({
    AWS_LAMBDA_FUNCTION_NAME: 'rolegate-bench-api',
    AWS_REGION: 'eu-west-1',
    ROLEGATE_STAGE: 'bench',
    ROLEGATE_TABLE: tableName,
    ROLEGATE_DYNAMODB_ENDPOINT: dynamo.endpoint,
    ROLEGATE_LOG_LEVEL: 'INFO',
  });
  const container = (settings: Settings = deps.settings) => apiHandler(composeApp({ env, settings }));
  const api = container();
  const elsewhere = container();
  // For the stale snapshot, the rule wants a third approval, so the one measured (the second) is not the last, as in the rows above.
  const threeApprovals = { ...deps.settings, rules: deps.settings.rules.map((r) => (r.id === 'admin-two-approvals' ? { ...r, approvalsRequired: 3 } : r)) };
  const writer = container(threeApprovals);
  const other = container(threeApprovals);
  const ctx = lambdaContext();
  const create = { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'Resize the web fleet' };

  const rawWrite = async (items: Record<string, unknown>[]) => {
    await doc.send(new TransactWriteCommand({ TransactItems: items.map((Item) => ({ Put: { TableName: tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' } })) }));
  };
  // The items the handler writes, byte for byte in shape: the audit events carry their data, the notification they
  // announce and where the call came from (as apiEvent's API Gateway context gives it).
  const source = () => ({ via: 'api' as const, sourceIp: '203.0.113.7', userAgent: 'aws-cli/2.15', apiRequestId: randomUUID() });
  const createdEvent = (r: AccessRequest) =>
    eventItem({ id: randomUUID(), requestId: r.id, at: r.createdAt, actor: ALICE, source: source(), action: 'REQUESTED', to: 'PENDING', comment: r.reason, data: { account: r.accountId, profile: r.profile, durationMinutes: r.durationMinutes, principal: r.principalArn }, notify: 'request.created' });
  const rawCreate = (r: AccessRequest) => rawWrite([requestItem(r), createdEvent(r)]);
  // With an Idempotency-Key (the CLI sends one every time): the key's claim is the transaction's third item.
  const claimItem = (r: AccessRequest, key: string) => ({
    ...claimKey(claimantOf(r), key), type: 'claim', requestId: r.id, requester: r.requester, createdAt: r.createdAt,
    expiresAt: Math.floor(Date.parse(r.createdAt) / 1000) + IDEMPOTENCY_HOURS * 3600,
  });
  const rawCreateKeyed = (r: AccessRequest) => rawWrite([requestItem(r), createdEvent(r), claimItem(r, randomUUID())]);
  const approvalEvent = (r: AccessRequest) =>
    eventItem({ id: randomUUID(), requestId: r.id, at: r.createdAt, actor: ANNA, source: source(), action: 'APPROVAL_RECORDED', from: 'PENDING', to: 'PENDING', data: { approvals: 1, required: 2 }, notify: 'request.approval_recorded' });
  const decisionOf = (r: AccessRequest) => decisionItem({ requestId: r.id, approver: ANNA, decision: 'APPROVE', at: r.createdAt, via: 'api' });
  // As the store sends it: a refusal on the version hands back the stored request (ReturnValuesOnConditionCheckFailure).
  const rawApproval = async (r: AccessRequest) => {
    const next = requestItem({ ...r, version: r.version + 1, approvals: [...r.approvals, ANNA] });
    await doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName, Item: next, ConditionExpression: '#version = :expected', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':expected': r.version },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          ...[decisionOf(r), approvalEvent(r)].map((Item) => ({ Put: { TableName: tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' } })),
        ],
      }),
    );
  };
  const timed = async <T>(into: number[], work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const out = await work();
    into.push(performance.now() - t);
    return out;
  };
  const made = async (app: typeof api, into: number[], key?: string): Promise<string> => {
    const headers = key === undefined ? {} : { headers: { 'Idempotency-Key': key } };
    const res = await timed(into, () => app(apiEvent({ method: 'POST', path: '/requests', caller: ALICE, body: create, ...headers }), ctx));
    if (res.statusCode !== 201) throw new Error(`create failed: ${res.body}`);
    return JSON.parse(res.body).request.id;
  };
  const approved = async (app: typeof api, id: string, into: number[], caller = ANNA): Promise<void> => {
    const res = await timed(into, () => app(apiEvent({ method: 'POST', path: `/requests/${id}/approve`, caller, body: {} }), ctx));
    if (res.statusCode !== 200) throw new Error(`approve failed: ${res.body}`);
  };

  const hCreate: number[] = [];
  const rCreate: number[] = [];
  const hKeyed: number[] = [];
  const rKeyed: number[] = [];
  const hApprove: number[] = [];
  const rApprove: number[] = [];
  const hElsewhere: number[] = [];
  const sElsewhere: number[] = [];
  const hStale: number[] = [];
  const sStale: number[] = [];
  const unused: number[] = [];
  for (let i = -100; i < n; i++) {
    const measured = i >= 0;
    const into = (samples: number[]) => (measured ? samples : unused);
    // Each pair runs in alternating order, so neither side always follows the same call.
    const pair = async (first: () => Promise<void>, second: () => Promise<void>) => {
      if (i % 2 === 0) {
        await first();
        await second();
      } else {
        await second();
        await first();
      }
    };
    // POST /requests, then the same container approves what it wrote.
    let id = '';
    const r = sampleRequest(randomUUID());
    await pair(
      async () => {
        id = await made(api, into(hCreate));
      },
      () => timed(into(rCreate), () => rawCreate(r)),
    );
    // POST /requests as the CLI sends it, with an Idempotency-Key.
    const k = sampleRequest(randomUUID());
    await pair(
      async () => {
        await made(api, into(hKeyed), randomUUID());
      },
      () => timed(into(rKeyed), () => rawCreateKeyed(k)),
    );
    // The raw approval writes what the handler writes: the stored request's next version over it, under a condition on its version.
    await pair(
      () => approved(api, id, into(hApprove)),
      () => timed(into(rApprove), () => rawApproval(r)),
    );

    // A container new to the request approves it: one consistent GetItem, then the transaction.
    const fresh = await made(api, unused);
    const s = sampleRequest(randomUUID());
    await rawCreate(s);
    await pair(
      () => approved(elsewhere, fresh, into(hElsewhere)),
      () =>
        timed(into(sElsewhere), async () => {
          await doc.send(new GetCommand({ TableName: tableName, Key: requestKey(s.id), ConsistentRead: true }));
          await rawApproval(s);
        }),
    );

    // The container that wrote the request approves it after another one did: the transaction
    // on its stale snapshot fails on the version and hands back the stored request, then the transaction on it.
    const stale = await made(writer, unused);
    await approved(other, stale, unused, BEN);
    const t = sampleRequest(randomUUID());
    await rawCreate(t);
    const tBen = { ...t, approvals: [BEN] };
    await doc.send(new PutCommand({ TableName: tableName, Item: requestItem({ ...tBen, version: 2 }) }));
    await pair(
      () => approved(writer, stale, into(hStale)),
      () =>
        timed(into(sStale), async () => {
          const found = await rawApproval(t).then(
            () => undefined,
            (e: TransactionCanceledException) => e.CancellationReasons?.[0]?.Item,
          );
          if (!found) throw new Error('the raw write on a stale version should have been refused, handing back the stored item');
          await rawApproval({ ...tBen, version: 2 });
        }),
    );
  }
  return [
    { name: 'POST /requests', n, handler: summary(hCreate), raw: summary(rCreate) },
    { name: 'POST /requests with an Idempotency-Key (as the CLI sends it)', n, handler: summary(hKeyed), raw: summary(rKeyed) },
    { name: 'POST /requests/{id}/approve (container that wrote it)', n, handler: summary(hApprove), raw: summary(rApprove) },
    {
      name: 'POST /requests/{id}/approve (container new to it)', n, handler: summary(hElsewhere), raw: summary(rApprove),
      sameWork: { why: 'reads the request before it writes', label: 'GetItem + TransactWriteItems', ...summary(sElsewhere) },
    },
    {
      name: 'POST /requests/{id}/approve (container that wrote it, approved elsewhere since)', n, handler: summary(hStale), raw: summary(rApprove),
      sameWork: { why: 'writes on its stale snapshot, which fails on the version and hands back the request as stored, then writes again on that', label: 'refused TransactWriteItems + TransactWriteItems', ...summary(sStale) },
    },
  ];
}
