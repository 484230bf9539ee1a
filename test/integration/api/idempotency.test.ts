import { StaleWriteError } from '../../../src/domain/errors';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { apiEvent, call, lambdaContext } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { countReads } from '../../helpers/read-counter';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';

/** POST /requests and /extend with an Idempotency-Key, on the real engine: a retry after a timeout makes nothing twice. */
describe('Idempotency-Key', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  const production = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Investigate INC-7' };
  const post = (body: Record<string, unknown>, key?: string, caller: string = ARN.alice) =>
    call(h.api, { method: 'POST', path: '/requests', caller, body, ...(key !== undefined ? { headers: { 'Idempotency-Key': key } } : {}) });
  const mine = async (arn: string = ARN.alice) => (await h.requests.list({ requester: arn, limit: 100 })).items;

  it('answers a repeat with the request the first call made, as it is now, and makes, records and announces it once', async () => {
    const first = await post(production, '2f1c7a9e-5b1d-4c8e-9f3a-7d6e5c4b3a21');
    await call(h.api, { method: 'POST', path: `/requests/${first.body.request.id}/approve`, caller: ARN.leadAnna, body: {} });

    const repeat = await post(production, '2f1c7a9e-5b1d-4c8e-9f3a-7d6e5c4b3a21');

    expect(first.status).toBe(201);
    expect(repeat.status).toBe(201);
    expect(repeat.body.request).toMatchObject({ id: first.body.request.id, status: 'APPROVED', approvals: [ARN.leadAnna] });
    expect((await mine()).map((r) => r.id)).toEqual([first.body.request.id]);
    const detail = (await h.requests.getDetail(first.body.request.id))!;
    expect(detail.events.map((e) => e.action)).toEqual(['REQUESTED', 'APPROVED']);
    expect(h.notifier.sent.filter((n) => n.kind === 'request.created')).toHaveLength(1);
  });

  it('reads nothing for a first call with a key: one transaction, the claim in it; a repeat finds the request through that claim', async () => {
    const reads = countReads(h.requests.doc);

    const first = await post(production, '7a0b6c1d-2e3f-4a5b-8c6d-9e0f1a2b3c4d');
    expect(first.status).toBe(201);
    expect(reads.calls).toEqual({});

    const repeat = await post(production, '7a0b6c1d-2e3f-4a5b-8c6d-9e0f1a2b3c4d');
    expect(repeat.status).toBe(201);
    expect(repeat.body.request.id).toBe(first.body.request.id);
    // The claim refused the repeat's commit; the key and the request it names are read then.
    expect(reads.calls).toEqual({ GetItemCommand: 2 });
  });

  it('reads the key and its request once for a repeat that asks for something else: one 409', async () => {
    await post(production, '3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7');
    const reads = countReads(h.requests.doc);

    const other = await post({ ...production, reason: 'something else' }, '3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7');

    expect(other.status).toBe(409);
    expect(reads.calls).toEqual({ GetItemCommand: 2 });
  });

  it('answers a repeat whose write fails otherwise (DynamoDB throttled past its retries) with the request the key names', async () => {
    const first = await post(production, '8d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a');
    const store = h.deps.requests;
    h.deps.requests = Object.assign(Object.create(store) as typeof store, {
      commit: async () => {
        throw Object.assign(new Error('Transaction cancelled: throttled'), { name: 'TransactionCanceledException' });
      },
    });

    const repeat = await post(production, '8d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a');
    const fresh = await post(production, '0f1a2b3c-4d5e-4f6a-8b7c-9d0e1f2a3b4c');

    expect(repeat).toMatchObject({ status: 201, body: { request: { id: first.body.request.id } } });
    expect(fresh.status).toBe(500);
  });

  it('answers a repeat with the request it made even when the rule has since stopped allowing it (the key is read once a check refuses)', async () => {
    const first = await post(production, '5c4b3a21-7d6e-4f3a-9b1d-2f1c7a9e5b1d');
    h.deps.settings = settingsWith((d) => {
      d.rules = (d.rules as Array<Record<string, unknown>>).filter((r) => r.id !== 'production-read');
    });

    const repeat = await post(production, '5c4b3a21-7d6e-4f3a-9b1d-2f1c7a9e5b1d');
    const fresh = await post(production, '9e0f1a2b-3c4d-4a5b-8c6d-7a0b6c1d2e3f');

    expect(first.status).toBe(201);
    expect(repeat).toMatchObject({ status: 201, body: { request: { id: first.body.request.id } } });
    expect(fresh.status).toBe(403);
  });

  it('keeps no call state on a context object passed again: a call without a key after one with a key makes its own request', async () => {
    const ctx = lambdaContext();
    const send = (headers: Record<string, string>) => h.api(apiEvent({ method: 'POST', path: '/requests', caller: ARN.alice, body: production, headers }), ctx);

    const keyed = JSON.parse((await send({ 'Idempotency-Key': '1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d' })).body!);
    const plain = JSON.parse((await send({})).body!);

    expect(plain.request.id).not.toBe(keyed.request.id);
    expect(await mine()).toHaveLength(2);
    expect(Object.keys(ctx)).not.toContain('idempotencyKey');
  });

  it('takes up an auto-approved request once: one request, one provisioning enqueued', async () => {
    const staging = { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'Check a deploy' };

    const replies = [await post(staging, 'deploy-check-0001'), await post({ ...staging, account: '222222222222' }, 'deploy-check-0001')];

    expect(replies.map((r) => r.status)).toEqual([201, 201]);
    expect(replies[1]!.body.request.id).toBe(replies[0]!.body.request.id);
    expect(h.queue.ids).toEqual([replies[0]!.body.request.id]);
  });

  it('makes one request when the same key arrives ten times at once', async () => {
    // All ten reach their commit before any commits (a barrier), so all ten race: one wins, nine find its claim.
    const store = h.deps.requests;
    let arrived = 0;
    let release!: () => void;
    const allArrived = new Promise<void>((r) => (release = r));
    h.deps.requests = Object.assign(Object.create(store) as typeof store, {
      commit: async (...args: Parameters<typeof store.commit>) => {
        if (arrived < 10 && ++arrived === 10) release();
        if (arrived <= 10) await allArrived;
        return store.commit(...args);
      },
    });

    const replies = await Promise.all(Array.from({ length: 10 }, () => post(production, 'burst-key-00000001')));

    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(201));
    expect(new Set(replies.map((r) => r.body.request.id)).size).toBe(1);
    expect(await mine()).toHaveLength(1);
    expect(h.notifier.sent.filter((n) => n.kind === 'request.created')).toHaveLength(1);
  });

  it('answers an extend repeated while the first copy is still running with the extension that copy made, not a 409 about it', async () => {
    const original = (await post({ account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' })).body.request.id as string;
    await provisionRequest(h.deps, original);
    // The second copy reads the key before the first commits, and the request's extensions after: it sees the first's.
    // Both orders are held, not left to timing: the first commits only once the second is listing extensions (so it
    // read the key before the commit), and the second lists only once the first has committed.
    const store = h.deps.requests;
    let committed!: () => void;
    const firstCommitted = new Promise<void>((r) => (committed = r));
    let secondListing!: () => void;
    const secondListed = new Promise<void>((r) => (secondListing = r));
    let listings = 0;
    h.deps.requests = Object.assign(Object.create(store) as typeof store, {
      extensionsOf: async (id: string) => {
        if (++listings === 2) {
          secondListing();
          await firstCommitted;
        }
        return store.extensionsOf(id);
      },
      commit: async (write: Parameters<typeof store.commit>[0]) => {
        const extension = write.request.extendsRequestId === original;
        if (extension) await secondListed;
        await store.commit(write);
        if (extension) committed();
      },
    });
    const extend = () => call(h.api, { method: 'POST', path: `/requests/${original}/extend`, caller: ARN.alice, body: { durationMinutes: 30, reason: 'more' }, headers: { 'Idempotency-Key': 'extend-key-0001' } });

    const [first, second] = await Promise.all([extend(), extend()]);

    expect(listings).toBe(2);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.request.id).toBe(first.body.request.id);
    expect((await mine()).filter((r) => r.extendsRequestId === original)).toHaveLength(1);
  });

  it('commits again when DynamoDB cancels the transaction over a claim still in flight (TransactionConflict), and answers with the winner', async () => {
    // DynamoDB Local runs transactions one at a time, so the cancellation real DynamoDB gives two that meet is played here:
    // the loser's first commit is cancelled while the winner's is in flight, before the winner's claim can be read.
    // No timer: the winner's commit waits until the loser commits again, so the loser's look for a claim in between finds none.
    const store = h.deps.requests;
    let winner: Promise<void> | undefined;
    let loserRetries!: () => void;
    const loserRetried = new Promise<void>((resolve) => (loserRetries = resolve));
    let loserCommits = 0;
    h.deps.requests = Object.assign(Object.create(store) as typeof store, {
      commit: async (write: Parameters<typeof store.commit>[0]) => {
        if (write.claim === undefined) return store.commit(write);
        if (!winner) {
          winner = loserRetried.then(() => store.commit(write));
          return winner;
        }
        if (++loserCommits === 1) throw new StaleWriteError('contended');
        // The retry lands once the winner has committed.
        loserRetries();
        await winner;
        return store.commit(write);
      },
    });

    const [first, second] = await Promise.all([post(production, 'in-flight-key-0001'), post(production, 'in-flight-key-0001')]);

    expect(loserCommits).toBe(2);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.request.id).toBe(first.body.request.id);
    expect(await mine()).toHaveLength(1);
  });

  // Every field of the intent counts: a client that reuses a key for a request that differs in any one of them would
  // otherwise be told its new request was made, and act on access that was never asked for.
  it.each<[string, Record<string, unknown>]>([
    ['another duration', { durationMinutes: 120 }],
    ['another reason', { reason: 'Investigate INC-8' }],
    ['another ticket', { ticket: 'INC-8' }],
    ['another principal (a workload role instead of the requester)', { principalArn: ARN.appRole }],
  ])('refuses the same key for a request with %s with a 409 that names the header, and writes nothing', async (_what, change) => {
    const first = await post(production, 'reused-key-000001');
    const before = await allItems(h);

    const other = await post({ ...production, ...change }, 'reused-key-000001');

    expect(other.status).toBe(409);
    expect(other.body).toEqual({
      error: 'CONFLICT',
      message: `This Idempotency-Key was used for request ${first.body.request.id}, which asked for something else; use a new key for a new request.`,
      details: [{ field: 'Idempotency-Key', reason: 'was used in the last 24 hours for another request' }],
    });
    expect(await allItems(h)).toEqual(before);
  });

  it("keeps each requester's keys apart, and a key makes a new request again after 24 hours", async () => {
    const alices = await post(production, 'shared-key-000001');
    const bobs = await post(production, 'shared-key-000001', ARN.bob);
    h.clock.advance(24 * 3_600_000);
    const later = await post(production, 'shared-key-000001');

    expect([alices.status, bobs.status, later.status]).toEqual([201, 201, 201]);
    expect(bobs.body.request).toMatchObject({ requester: ARN.bob });
    expect(new Set([alices.body.request.id, bobs.body.request.id, later.body.request.id]).size).toBe(3);
    expect(await mine()).toHaveLength(2);
  });

  it('answers a repeat with the request made even when the configuration no longer allows it', async () => {
    const first = await post(production, 'before-change-0001');
    h.deps.settings = { ...h.deps.settings, rules: h.deps.settings.rules.filter((r) => r.id !== 'production-read') };

    const repeat = await post(production, 'before-change-0001');
    const fresh = await post(production, 'after-change-00001');

    expect(repeat).toMatchObject({ status: 201, body: { request: { id: first.body.request.id } } });
    expect(fresh.status).toBe(403);
  });

  it.each([
    ['too short', 'short'],
    ['a space', 'has a space-0001'],
    ['a quote', 'quote"key-0001'],
    ['too long', 'k'.repeat(129)],
  ])('refuses a key with %s with a 400 naming the header, and writes nothing', async (_what, key) => {
    const before = await allItems(h);

    const reply = await post(production, key);

    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({
      error: 'VALIDATION_FAILED',
      message: 'The Idempotency-Key header is not valid.',
      details: [{ field: 'Idempotency-Key', reason: 'must be 8–128 letters, digits and _.:- (a UUID fits)' }],
    });
    expect(await allItems(h)).toEqual(before);
  });

  it('answers a repeated extension with the extension the first call made', async () => {
    const original = await post({ account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'Check a deploy' });
    await provisionRequest(h.deps, original.body.request.id);
    const extend = (key: string) =>
      call(h.api, { method: 'POST', path: `/requests/${original.body.request.id}/extend`, caller: ARN.alice, body: { durationMinutes: 30, reason: 'Not done' }, headers: { 'Idempotency-Key': key } });

    const first = await extend('extend-key-000001');
    const repeat = await extend('extend-key-000001');

    expect([first.status, repeat.status]).toEqual([201, 201]);
    expect(repeat.body.request.id).toBe(first.body.request.id);
    expect((await mine()).filter((r) => r.extendsRequestId === original.body.request.id)).toHaveLength(1);
  });

  it('answers a repeated extension with the extension made even after the original was revoked', async () => {
    const original = await post({ account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Check a deploy' });
    await call(h.api, { method: 'POST', path: `/requests/${original.body.request.id}/approve`, caller: ARN.leadAnna, body: {} });
    await provisionRequest(h.deps, original.body.request.id);
    const extend = () =>
      call(h.api, { method: 'POST', path: `/requests/${original.body.request.id}/extend`, caller: ARN.alice, body: { durationMinutes: 30, reason: 'Not done' }, headers: { 'Idempotency-Key': 'extend-key-000002' } });
    const first = await extend();
    const revoked = await call(h.api, { method: 'POST', path: `/requests/${original.body.request.id}/revoke`, caller: ARN.alice, body: {} });

    const repeat = await extend();

    expect([first.status, revoked.status, repeat.status]).toEqual([201, 200, 201]);
    expect(repeat.body.request).toMatchObject({ id: first.body.request.id, status: 'CANCELLED' });
  });
});
