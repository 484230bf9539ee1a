import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { endAccess } from '../../../src/domain/use-cases/endAccess';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { StaleWriteError } from '../../../src/domain/errors';
import type { AccessRequest, Actor } from '../../../src/domain/model';
import type { RequestWrite } from '../../../src/domain/ports';
import type { ProvisioningDeps } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { injectDynamoFaults } from '../../helpers/fault-dynamodb';
import { FaultSchedule, type FaultKind } from '../../helpers/fault-schedule';
import { harness, type Harness } from '../../helpers/harness';
import { intercept } from '../../helpers/intercept';
import { ARN } from '../../helpers/settings';

/*
 * A new request commits in one transaction: the request, its events and, for an extension, a check that the
 * original is not revoked. DynamoDB cancels it with TransactionConflict when another transaction on one of those
 * items is in flight (the original's revocation or expiry, another extension's check), having checked nothing.
 * DynamoDB Local runs transactions one at a time, so that cancellation is injected at the client, after the SDK's
 * own retries, where the store reads it. The commit goes again, with or without an Idempotency-Key, and its
 * conditions give the answer: a 409 only for what they find, never for the clash itself.
 */

const api = (arn: string): Actor => ({ arn, via: 'api' });
const TRANSACT = 'TransactWriteItemsCommand';

/** DynamoDB's answer to a transaction that met another in flight on its last item (an extension's check of its original). */
const inFlight = (times: number): FaultKind => ({
  name: 'TransactionConflict',
  outcome: 'throw',
  effect: 'before',
  times,
  error: () =>
    new TransactionCanceledException({
      message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, None, None, TransactionConflict]',
      $metadata: { httpStatusCode: 400 },
      CancellationReasons: [{ Code: 'None' }, { Code: 'None' }, { Code: 'None' }, { Code: 'TransactionConflict' }],
    }),
});

describe('a new request whose commit meets a transaction in flight (real DynamoDB, the clash injected)', () => {
  let h: Harness;
  let schedule: FaultSchedule;
  let removeFaults: () => void;
  beforeEach(async () => {
    h = await harness();
    schedule = new FaultSchedule();
    removeFaults = injectDynamoFaults(h.requests.doc, schedule);
  });
  afterEach(async () => {
    removeFaults();
    await h.close();
  });

  /** staging ReadOnly is auto-approved: ACTIVE for an hour. */
  async function activeStaging(): Promise<AccessRequest> {
    const original = await createRequest(h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
    await provisionRequest(h.deps, original.id);
    return (await h.requests.get(original.id))!;
  }

  /** The transactions sent since the schedule was armed: `#n` for each, `!` for one the fault cancelled. */
  const transactions = () => schedule.calls.filter((c) => c.command === TRANSACT).map((c) => `#${c.nth}${c.faulted ? '!' : ''}`);

  const mine = async () => (await h.requests.list({ requester: ARN.alice, limit: 10 })).items.map((r) => [r.id, r.status]);

  it('grants an auto-approved extension, asked without an Idempotency-Key, on its second commit: 201, made once', async () => {
    const original = await activeStaging();
    schedule.arm({ point: { service: 'dynamodb', command: TRANSACT, nth: 1 }, kind: inFlight(1) });

    const reply = await call(h.api, { method: 'POST', path: `/requests/${original.id}/extend`, caller: ARN.alice, body: { durationMinutes: 30, reason: 'more' } });
    schedule.disarm();

    expect(transactions()).toEqual(['#1!', '#2']);
    expect(reply.status).toBe(201);
    const extension = reply.body.request;
    expect(extension).toMatchObject({ status: 'APPROVED', extendsRequestId: original.id, endsAt: new Date(Date.parse(original.endsAt!) + 30 * 60_000).toISOString() });
    expect(await mine()).toEqual([
      [extension.id, 'APPROVED'],
      [original.id, 'ACTIVE'],
    ]);
    expect((await h.requests.getDetail(extension.id))!.events.map((e) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED']);
    expect(h.queue.ids).toEqual([original.id, extension.id]);
  });

  it('refuses the extension when the transaction it met was the revocation of its original: the second commit finds it, and nothing is made', async () => {
    const original = await activeStaging();
    await endAccess(h.deps, original.id, 'REVOKED', { arn: ARN.alice }, 'done');
    // The extension read the original before the revocation landed; its first commit met the revocation in flight.
    const store = h.deps.requests;
    const racing: ProvisioningDeps = { ...h.deps, requests: intercept(store, { get: async (id: string) => (id === original.id ? original : store.get(id)) }) };
    schedule.arm({ point: { service: 'dynamodb', command: TRANSACT, nth: 1 }, kind: inFlight(1) });

    const extending = extendRequest(racing, api(ARN.alice), original.id, { durationMinutes: 30, reason: 'more' });

    await expect(extending).rejects.toThrow(`extends request ${original.id}, which was revoked; it can no longer be granted.`);
    schedule.disarm();
    // The condition that failed is not sent a third time.
    expect(transactions()).toEqual(['#1!', '#2']);
    expect(await mine()).toEqual([[original.id, 'REVOKED']]);
    expect(h.queue.ids).toEqual([original.id]);
  });

  it('answers a run of a Slack job with the request its other run made while the first commit was cancelled', async () => {
    const input = { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'from slack', requestId: h.deps.ids.next() };
    // The job's other run commits the same request id between this run's two commits.
    let other: AccessRequest | undefined;
    const store = h.deps.requests;
    const run: ProvisioningDeps = {
      ...h.deps,
      requests: intercept(store, {
        commit: async (write: RequestWrite) => {
          if (schedule.fired.length && !other) other = await createRequest(h.deps, api(ARN.alice), input);
          return store.commit(write);
        },
      }),
    };
    schedule.arm({ point: { service: 'dynamodb', command: TRANSACT, nth: 1 }, kind: inFlight(1) });

    const made = await createRequest(run, api(ARN.alice), input);
    schedule.disarm();

    // #1 this run's, cancelled; #2 the other run's; #3 this run's again, refused: the id is taken.
    expect(transactions()).toEqual(['#1!', '#2', '#3']);
    expect(made).toEqual(other);
    expect(made).toMatchObject({ id: input.requestId, status: 'APPROVED' });
    expect(await mine()).toEqual([[input.requestId, 'APPROVED']]);
    expect((await h.requests.getDetail(input.requestId))!.events.map((e) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED']);
    expect(h.queue.ids).toEqual([input.requestId]);
  });

  it('gives up after five commits that all met a transaction in flight, and makes nothing', async () => {
    const original = await activeStaging();
    schedule.arm({ point: { service: 'dynamodb', command: TRANSACT, nth: 1 }, kind: inFlight(5) });

    const extending = extendRequest(h.deps, api(ARN.alice), original.id, { durationMinutes: 30, reason: 'more' });

    await expect(extending).rejects.toBeInstanceOf(StaleWriteError);
    await expect(extending).rejects.toMatchObject({ why: 'contended' });
    schedule.disarm();
    expect(transactions()).toEqual(['#1!', '#2!', '#3!', '#4!', '#5!']);
    expect(await mine()).toEqual([[original.id, 'ACTIVE']]);
  });
});
