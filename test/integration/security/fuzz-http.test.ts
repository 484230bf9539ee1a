import { listingCursor } from '../../../src/domain/use-cases/listRequests';
import fc from 'fast-check';
import { harness, type Harness } from '../../helpers/harness';
import { call, type EventInput } from '../../helpers/events';
import { allItems } from '../../helpers/table';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { ARN } from '../../helpers/settings';
import { principalPk } from '../../../src/adapters/dynamodb/keys';
import { routes } from '../../../src/handlers/http/routes';
import { matchPath } from '../../../src/handlers/http/middlewares';
import { errorStatuses } from '../../../src/handlers/http/openapi';
import { fuzzRuns } from '../../helpers/fuzz-runs';

/*
 * Property: whatever a client sends to any route — malformed, oversized,
 * wrong-typed or hostile — rolegate answers with a 4xx carrying a stable
 * error code, never a 5xx, and writes nothing unless the input was a valid
 * request. The run size is set by ROLEGATE_FUZZ_RUNS (CI default below).
 */

const RUNS = fuzzRuns('ROLEGATE_FUZZ_RUNS', 10_500);
const STABLE_CODES = new Set(['VALIDATION_FAILED', 'INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'ROUTE_NOT_FOUND', 'METHOD_NOT_ALLOWED', 'CONFLICT']);

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('*', 'arn:aws:iam::*:root', 'arn:aws:iam::111111111111:root', "'; DROP TABLE--", '"}]}', '\u0000', '\n\r', 'ａｄｍｉｎ', 'аlice', '${jndi:ldap://x}', '__proto__', 'constructor', '<script>', 'a'.repeat(5000)),
  fc.constantFrom(ARN.alice, ARN.leadAnna, 'arn:aws:sts::111111111111:assumed-role/lead-anna/x', 'arn:aws:iam::111111111111:user/LEAD-ANNA'),
);
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom('account', 'accountId', 'profile', 'durationMinutes', 'reason', 'ticket', 'principalArn', 'comment', 'requester', 'approver', '__proto__', 'status'), fc.oneof(hostileString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }))),
);
// Nearly valid creation bodies, with one field replaced by something hostile, reach the rules and the store.
const nearValid = fc
  .tuple(fc.constantFrom('account', 'profile', 'durationMinutes', 'reason', 'ticket', 'principalArn'), fc.oneof(hostileString, fc.integer(), fc.double(), fc.constant(null)))
  .map(([field, value]) => ({ account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'fuzz', [field]: value }));
const pathFor = fc.oneof(
  fc.constantFrom(...routes.map((r) => r.path)).chain((p) => fc.oneof(fc.constant(p.replace('{id}', '01J0000000000000000000000Z')), hostileString.map((x) => p.replace('{id}', encodeURIComponent(x) || 'x')))),
  hostileString.map((x) => `/${encodeURIComponent(x)}`),
);
/** The callers that are IAM users or roles of the identity account: no other (a root, a federated user, a wildcard, junk) may succeed. */
const PRINCIPALS = [
  ARN.alice,
  ARN.bob,
  ARN.leadAnna,
  'arn:aws:sts::111111111111:assumed-role/lead-anna/x',
  'arn:aws:iam::111111111111:user/LEAD-ANNA',
  'arn:aws:sts::111111111111:assumed-role/app-billing/i-1',
];
const callerFor = fc.option(fc.oneof(fc.constantFrom(ARN.alice, ARN.bob, ARN.leadAnna, 'arn:aws:iam::111111111111:root', 'arn:aws:sts::111111111111:federated-user/x'), hostileString), { nil: undefined });

// Focused: a signed POST /requests with a nearly valid JSON body, reaching rules and the store.
const focusedArb: fc.Arbitrary<EventInput> = fc.record({
  method: fc.constant('POST' as const),
  path: fc.constant('/requests'),
  caller: fc.constantFrom(ARN.alice, ARN.bob, 'arn:aws:sts::111111111111:assumed-role/app-billing/i-1'),
  rawBody: nearValid.map((j) => JSON.stringify(j)),
  headers: fc.constant({ 'content-type': 'application/json' }),
}) as fc.Arbitrary<EventInput>;

// Focused: listings with cursors that carry the right attributes and partition but hostile key values.
const keyValue = fc.oneof(
  hostileString,
  fc.constantFrom('', 'REQ#01J0000000000000000000000Z', 'REQ#', '2026-03-02T09:00:00.000Z#01J0000000000000000000000Z', '2026-03-02T09:00:00.000Z#', `2026-03-02T09:00:00.000Z#${'A'.repeat(1100)}`, `REQ#${'A'.repeat(1100)}`),
);
const cursorArb: fc.Arbitrary<EventInput> = fc
  .tuple(fc.boolean(), keyValue, keyValue)
  .map(([mine, pk, position]) => {
    const key = mine ? { pk, sk: '#REQUEST', gsi2pk: principalPk(ARN.alice), gsi2sk: position } : { pk, sk: '#REQUEST', gsi1pk: 'STATUS#PENDING', gsi1sk: position };
    const storeCursor = Buffer.from(JSON.stringify(key)).toString('base64url');
    return { method: 'GET' as const, path: '/requests', caller: ARN.alice, query: { view: mine ? 'mine' : 'all', cursor: listingCursor(mine ? 'mine.ANY' : 'all.PENDING', storeCursor) } };
  });

const broadArb: fc.Arbitrary<EventInput> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
  path: pathFor,
  caller: callerFor,
  rawBody: fc.oneof(anyJson.map((j) => JSON.stringify(j)), nearValid.map((j) => JSON.stringify(j)), hostileString, fc.constant('')),
  headers: fc.record({ 'content-type': fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', ''), 'x-rolegate-principal': hostileString }),
  query: fc.option(fc.dictionary(fc.constantFrom('view', 'status', 'limit', 'cursor', 'owner', 'as'), hostileString), { nil: undefined }),
}) as fc.Arbitrary<EventInput>;

describe('fuzzing every HTTP route', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  it(`answers ${RUNS} hostile inputs with a 4xx and a stable code, never a 5xx, and writes nothing`, async () => {
    const before = new Set((await allItems(h)).map((i) => `${String(i.pk)}|${String(i.sk)}`));
    const statuses = new Map<number, number>();
    let created = 0;
    const createdIds = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: broadArb, weight: 3 }, { arbitrary: focusedArb, weight: 2 }, { arbitrary: cursorArb, weight: 1 }), async (input) => {
        const res = await call(h.api, input);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        // Every answer of an existing route is one its OpenAPI operation documents.
        const route = routes.find((r) => r.method === input.method && matchPath(r.path, input.path));
        if (route) {
          const documented = [String(route.status), ...errorStatuses(route)];
          expect({ route: `${route.method} ${route.path}`, status: String(res.status), documented: documented.includes(String(res.status)) }).toEqual({ route: `${route.method} ${route.path}`, status: String(res.status), documented: true });
        }
        if (res.status < 400) {
          // Success needs an authenticated caller, except on the two public routes.
          if (!['/health', '/openapi.json'].includes(input.path)) expect(PRINCIPALS).toContain(input.caller);
          if (res.status === 201) {
            created++;
            createdIds.add(res.body.request.id);
          }
          return;
        }
        expect(res.status).toBeLessThan(500);
        expect(STABLE_CODES.has(res.body.error)).toBe(true);
        expect(typeof res.body.message).toBe('string');
      }),
      { numRuns: RUNS, seed: 20261123 },
    );
    // Only valid creations may have written, each exactly its request and its REQUESTED event (every
    // creation the fuzz can make waits for an approval): no stray item beside them, whatever it is.
    const written = (await allItems(h)).filter((i) => !before.has(`${String(i.pk)}|${String(i.sk)}`));
    const byRequest = new Map<string, string[]>();
    for (const item of written) byRequest.set(String(item.pk), [...(byRequest.get(String(item.pk)) ?? []), String(item.type)]);
    // A positive control: valid requests did get through (a chain refusing everything would pass the rest).
    expect(created).toBeGreaterThan(0);
    expect(createdIds.size).toBe(created);
    expect([...byRequest.keys()].sort()).toEqual([...createdIds].map((id) => `REQ#${id}`).sort());
    for (const [pk, types] of byRequest) expect({ pk, types: types.sort() }).toEqual({ pk, types: ['event', 'request'] });
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    if (process.env.ROLEGATE_FUZZ_REPORT) console.log(`fuzz: ${RUNS} cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${created} valid creations`);
  }, 300_000);

  // The routes that change a request, against requests that exist (a fresh pending one each case, and
  // live access), so the hostile input meets the rules and the state, not a 404.
  const ACTION_RUNS = Math.max(200, Math.round(RUNS / 20));
  const VALID = '<the body the action takes>';
  const ALLOWED = '<a caller the action allows>';
  const actionArb = fc.record({
    target: fc.constantFrom('pending', 'active'),
    action: fc.constantFrom('approve', 'deny', 'cancel', 'revoke', 'retry', 'extend'),
    // Often one the action allows, so success is tried as much as refusal; else anyone, or a hostile identity.
    caller: fc.oneof({ arbitrary: fc.constant(ALLOWED), weight: 3 }, { arbitrary: fc.constantFrom(...PRINCIPALS), weight: 4 }, { arbitrary: callerFor, weight: 1 }),
    // Weighted toward the body the action takes (VALID), so callers and states, not only the parser, are tried.
    rawBody: fc.oneof(
      { arbitrary: fc.constant(VALID), weight: 5 },
      fc.constantFrom('{}', '{"comment":"ok"}', '{"durationMinutes":60,"reason":"more time"}'),
      anyJson.map((j) => JSON.stringify(j)),
      fc.record({ comment: fc.oneof(hostileString, fc.integer()) }).map((j) => JSON.stringify(j)),
      fc.record({ durationMinutes: fc.oneof(fc.integer({ min: -10, max: 2000 }), hostileString), reason: hostileString }).map((j) => JSON.stringify(j)),
      hostileString,
      fc.constant(''),
    ),
    contentType: fc.oneof({ arbitrary: fc.constant('application/json'), weight: 6 }, { arbitrary: fc.constantFrom('text/plain', ''), weight: 1 }),
  });
  /** A body each action takes as it should. */
  const BODY: Record<string, string> = {
    approve: '{"comment":"ok"}',
    deny: '{"comment":"not now"}',
    cancel: '{}',
    revoke: '{"comment":"done"}',
    retry: '{}',
    extend: '{"durationMinutes":60,"reason":"more time"}',
  };
  /** Who may succeed, by action (approvers never on their own request; requester-only actions). */
  const MAY: Record<string, string[]> = {
    approve: [ARN.leadAnna, 'arn:aws:iam::111111111111:user/LEAD-ANNA'],
    deny: [ARN.leadAnna, 'arn:aws:iam::111111111111:user/LEAD-ANNA'],
    cancel: [ARN.alice],
    revoke: [ARN.alice, ARN.leadAnna, 'arn:aws:iam::111111111111:user/LEAD-ANNA'],
    extend: [ARN.alice],
    retry: [],
  };

  it(`answers ${ACTION_RUNS} hostile actions on real requests: a refusal changes nothing, and only those allowed succeed`, async () => {
    const itemsOf = async (id: string) => {
      const out = await h.requests.doc.send(new QueryCommand({ TableName: h.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `REQ#${id}` }, ConsistentRead: true }));
      return out.Items ?? [];
    };
    /** Live access, made afresh once an action ended the last (a revoke), so every case meets a live one. */
    let active: string | undefined;
    const liveAccess = async (): Promise<string> => {
      if (active !== undefined && (await h.requests.get(active))!.status === 'ACTIVE') return active;
      const made = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'fuzz' });
      expect((await provisionRequest(h.deps, made.id)).outcome).toBe('active');
      return (active = made.id);
    };
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(actionArb, async ({ target, action, caller: who, rawBody: raw, contentType }) => {
        // Retry is allowed to no one here (a lead may not retry a request that did not fail): a lead tries.
        const caller = who === ALLOWED ? (MAY[action]![0] ?? ARN.leadAnna) : who;
        const id = target === 'active' ? await liveAccess() : (await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'fuzz' })).id;
        const rawBody = raw === VALID ? BODY[action]! : raw;
        const before = await itemsOf(id);
        const res = await call(h.api, { method: 'POST', path: `/requests/${id}/${action}`, ...(caller !== undefined ? { caller } : {}), rawBody, headers: { 'content-type': contentType } } as EventInput);
        const key = `${action} ${res.status}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        if (res.status < 400) {
          expect({ action, caller, allowed: MAY[action]!.includes(caller!) }).toEqual({ action, caller, allowed: true });
          return;
        }
        expect(res.status).toBeLessThan(500);
        expect(STABLE_CODES.has(res.body.error)).toBe(true);
        expect(await itemsOf(id)).toEqual(before);
      }),
      { numRuns: ACTION_RUNS, seed: 20261124 },
    );
    // Positive control: some actions did succeed (a chain refusing all would pass the rest).
    for (const action of ['approve', 'deny', 'cancel', 'revoke']) expect({ action, succeeded: (outcomes.get(`${action} 200`) ?? 0) > 0 }).toEqual({ action, succeeded: true });
    expect((outcomes.get('extend 201') ?? 0) + (outcomes.get('extend 200') ?? 0)).toBeGreaterThan(0);
    if (process.env.ROLEGATE_FUZZ_REPORT) console.log(`fuzz actions: ${ACTION_RUNS} cases, ${JSON.stringify(Object.fromEntries(outcomes))}`);
  }, 120_000);
});
