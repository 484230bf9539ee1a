import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { eventItem, requestItem } from '../src/adapters/dynamodb/keys';
import type { AccessRequest } from '../src/domain/model';
import type { RequestStore } from '../src/domain/ports';
import { httpApp } from '../src/handlers/http/app';
import { routes } from '../src/handlers/http/routes';
import type { RunningDynamo } from '../src/local/dynamodb-local';
import { apiEvent, lambdaContext } from '../test/helpers/events';
import { benchDeps } from './env';
import { summary } from './stats';

const ALICE = 'arn:aws:iam::111111111111:user/alice';
const ANNA = 'arn:aws:iam::111111111111:user/lead-anna';

export interface LatencyRow {
  name: string;
  n: number;
  handler: { p50: number; p99: number };
  raw: { p50: number; p99: number };
  /** The same DynamoDB work done raw, when the handler needs more than one write (approve reads first). */
  sameWork?: { label: string; p50: number; p99: number };
  /** The handler again with its read served from memory: the floor for any design that skips the read. */
  withoutRead?: { p50: number; p99: number };
}

/**
 * A request store that remembers what it committed and serves reads of it
 * from memory. Benchmark only: it shows what approve would cost if it did
 * not read the request first (no correct approval can skip that read today).
 */
function rememberingStore(inner: RequestStore): RequestStore {
  const seen = new Map<string, AccessRequest>();
  return {
    commit: async (w) => {
      await inner.commit(w);
      seen.set(w.request.id, w.request);
    },
    get: async (id) => seen.get(id) ?? inner.get(id),
    getDetail: (id) => inner.getDetail(id),
    list: (q) => inner.list(q),
    listDue: (k, b, l, c) => inner.listDue(k, b, l, c),
    appendEvents: (e) => inner.appendEvents(e),
  };
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
 * POST /requests and approve through the whole middy chain on DynamoDB
 * Local, each against one raw TransactWriteItems of the same items on the
 * same engine, interleaved so both see the same machine state.
 */
export async function latency(dynamo: RunningDynamo, n: number): Promise<LatencyRow[]> {
  const { deps, doc, tableName } = await benchDeps(dynamo);
  const api = httpApp(routes, () => deps, deps.logger, { localIdentity: false });
  const memoryDeps = { ...deps, requests: rememberingStore(deps.requests) };
  const apiWithoutRead = httpApp(routes, () => memoryDeps, deps.logger, { localIdentity: false });
  const ctx = lambdaContext();
  const create = { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'Resize the web fleet' };

  const rawWrite = async (items: Record<string, unknown>[]) => {
    await doc.send(new TransactWriteCommand({ TransactItems: items.map((Item) => ({ Put: { TableName: tableName, Item, ConditionExpression: 'attribute_not_exists(pk)' } })) }));
  };
  const event = (r: AccessRequest, action: 'REQUESTED' | 'APPROVAL_RECORDED') => eventItem({ id: randomUUID(), requestId: r.id, at: r.createdAt, actor: ALICE, action, to: 'PENDING', comment: r.reason });

  // Warm up both paths.
  for (let i = 0; i < 100; i++) {
    await api(apiEvent({ method: 'POST', path: '/requests', caller: ALICE, body: create }), ctx);
    const r = sampleRequest(randomUUID());
    await rawWrite([requestItem(r), event(r, 'REQUESTED')]);
  }

  const created: string[] = [];
  const hCreate: number[] = [];
  const rCreate: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    const res = await api(apiEvent({ method: 'POST', path: '/requests', caller: ALICE, body: create }), ctx);
    hCreate.push(performance.now() - t);
    if (res.statusCode !== 201) throw new Error(`create failed: ${res.body}`);
    created.push(JSON.parse(res.body).request.id);
    const r = sampleRequest(randomUUID());
    t = performance.now();
    await rawWrite([requestItem(r), event(r, 'REQUESTED')]);
    rCreate.push(performance.now() - t);
  }

  const hApprove: number[] = [];
  const rApprove: number[] = [];
  const sApprove: number[] = [];
  const mApprove: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    const res = await api(apiEvent({ method: 'POST', path: `/requests/${created[i]}/approve`, caller: ANNA, body: {} }), ctx);
    hApprove.push(performance.now() - t);
    if (res.statusCode !== 200) throw new Error(`approve failed: ${res.body}`);
    const r = sampleRequest(randomUUID());
    const decision = { pk: `REQ#${r.id}`, sk: `DECISION#${ANNA}`, type: 'decision', requestId: r.id, approver: ANNA, decision: 'APPROVE', at: r.createdAt, via: 'api' };
    t = performance.now();
    await rawWrite([requestItem({ ...r, approvals: [ANNA] }), decision, event(r, 'APPROVAL_RECORDED')]);
    rApprove.push(performance.now() - t);
    // Approve must read the request first (rule, requester, approvals so far decide who may approve):
    // the same work raw is one consistent GetItem, then the transaction.
    const s = sampleRequest(randomUUID());
    await rawWrite([requestItem(s)]);
    t = performance.now();
    await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `REQ#${s.id}`, sk: '#REQUEST' }, ConsistentRead: true }));
    await rawWrite([requestItem({ ...s, id: randomUUID(), approvals: [ANNA] }), { ...decision, pk: `REQ#${s.id}`, requestId: s.id }, event(s, 'APPROVAL_RECORDED')]);
    sApprove.push(performance.now() - t);
    // The floor: the same approve with its read served from memory.
    const made = await apiWithoutRead(apiEvent({ method: 'POST', path: '/requests', caller: ALICE, body: create }), ctx);
    const madeId = JSON.parse(made.body).request.id;
    t = performance.now();
    const m = await apiWithoutRead(apiEvent({ method: 'POST', path: `/requests/${madeId}/approve`, caller: ANNA, body: {} }), ctx);
    mApprove.push(performance.now() - t);
    if (m.statusCode !== 200) throw new Error(`approve failed: ${m.body}`);
  }
  return [
    { name: 'POST /requests', n, handler: summary(hCreate), raw: summary(rCreate) },
    { name: 'POST /requests/{id}/approve', n, handler: summary(hApprove), raw: summary(rApprove), sameWork: { label: 'GetItem + TransactWriteItems', ...summary(sApprove) }, withoutRead: summary(mApprove) },
  ];
}
