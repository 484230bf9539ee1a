import fc from 'fast-check';
import { harness, type Harness } from '../../helpers/harness';
import { call, type EventInput } from '../../helpers/events';
import { allItems } from '../../helpers/table';
import { ARN } from '../../helpers/settings';
import { principalPk } from '../../../src/adapters/dynamodb/keys';
import { routes } from '../../../src/handlers/http/routes';
import { matchPath } from '../../../src/handlers/http/middlewares';
import { errorStatuses } from '../../../src/handlers/http/openapi';

/*
 * Property: whatever a client sends to any route — malformed, oversized,
 * wrong-typed or hostile — rolegate answers with a 4xx carrying a stable
 * error code, never a 5xx, and writes nothing unless the input was a valid
 * request. The run size is set by ROLEGATE_FUZZ_RUNS (CI default below).
 */

const RUNS = Number(process.env.ROLEGATE_FUZZ_RUNS ?? 10_500);
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
    return { method: 'GET' as const, path: '/requests', caller: ARN.alice, query: { view: mine ? 'mine' : 'all', cursor: Buffer.from(JSON.stringify(key)).toString('base64url') } };
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
    const before = (await allItems(h)).length;
    const statuses = new Map<number, number>();
    let created = 0;
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
          if (res.status === 201) created++;
          return;
        }
        expect(res.status).toBeLessThan(500);
        expect(STABLE_CODES.has(res.body.error)).toBe(true);
        expect(typeof res.body.message).toBe('string');
      }),
      { numRuns: RUNS, seed: 20261123 },
    );
    // Only valid creations may have written: a request and its event, plus the approval event when auto-approved.
    const after = await allItems(h);
    const requestsWritten = after.filter((i) => i.type === 'request').length;
    // A positive control: valid requests did get through (a chain refusing everything would pass the rest).
    expect(created).toBeGreaterThan(0);
    expect(requestsWritten).toBe(created);
    expect(after.length - before).toBeLessThanOrEqual(created * 3);
    expect([...statuses.keys()].every((s) => s < 500)).toBe(true);
    if (process.env.ROLEGATE_FUZZ_REPORT) console.log(`fuzz: ${RUNS} cases, statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${created} valid creations`);
  }, 300_000);
});
