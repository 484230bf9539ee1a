import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN } from '../../helpers/settings';

/*
 * Each deployed function may query only the indexes its role names
 * (serverless.yml: the sweeper byDue; the API and the worker byStatus,
 * byPrincipal and byExtends). IAM would refuse any other in production, where no test
 * runs: these record the index of every Query the code sends.
 */

const api = (arn: string) => ({ arn, via: 'api' as const });
const MINUTE = 60_000;

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** The indexes (or 'table') of every Query sent while `work` runs. */
async function indexesQueriedBy(doc: DynamoDBDocumentClient, work: () => Promise<unknown>): Promise<Set<string>> {
  const seen = new Set<string>();
  const name = `recordIndexes${Math.random().toString(36).slice(2)}`;
  doc.middlewareStack.add(
    (next, context) => async (args) => {
      if (String(context.commandName ?? '').startsWith('Query')) seen.add((args.input as { IndexName?: string }).IndexName ?? 'table');
      return next(args);
    },
    { step: 'initialize', name },
  );
  try {
    await work();
  } finally {
    doc.middlewareStack.remove(name);
  }
  return seen;
}

it('the sweeper queries only the due index while it times out, expires and re-drives', async () => {
  // Arrange: one request of each kind of due work.
  const pending = await createRequest(h.deps, api(ARN.alice), { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'times out' });
  const expiring = await createRequest(h.deps, api(ARN.bob), { account: 'staging', profile: 'ReadOnly', durationMinutes: 15, reason: 'expires' });
  await provisionRequest(h.deps, expiring.id);
  const stuck = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'S3ReadOnly', durationMinutes: 480, reason: 're-driven' });
  h.clock.advance(200 * MINUTE);

  const indexes = await indexesQueriedBy(h.requests.doc, async () => expect(await sweep(h.deps)).toMatchObject({ timedOut: 1, expired: 1, provisioned: 1, errors: [] }));

  expect([...indexes].filter((i) => i !== 'table')).toEqual(['byDue']);
  expect((await h.requests.get(pending.id))!.status).toBe('TIMED_OUT');
  expect((await h.requests.get(stuck.id))!.status).toBe('ACTIVE');
});

it('the API queries only the listing indexes: lists, and a revoke that looks for extensions', async () => {
  const r = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  await provisionRequest(h.deps, r.id);
  await extendRequest(h.deps, api(ARN.alice), r.id, { durationMinutes: 60, reason: 'more' });

  const indexes = await indexesQueriedBy(h.requests.doc, async () => {
    expect((await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice })).status).toBe(200);
    expect((await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting' } })).status).toBe(200);
    expect((await call(h.api, { method: 'POST', path: `/requests/${r.id}/revoke`, caller: ARN.alice, body: {} })).status).toBe(200);
  });

  expect([...indexes].filter((i) => i !== 'table').sort()).toEqual(['byExtends', 'byPrincipal', 'byStatus']);
});
