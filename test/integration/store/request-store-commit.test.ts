import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, RolegateError, StaleWriteError } from '../../../src/domain/errors';
import type { AccessRequest } from '../../../src/domain/model';
import { cancelTransactions } from '../../helpers/fault-dynamodb';
import { aDecision, anEvent, aRequest, bob, carol, creation, minutes, storeTable, transition, type StoreTable } from '../../helpers/store-fixtures';
import { allItems } from '../../helpers/table';

/*
 * DynamoRequestStore.commit, get, getDetail and appendEvents against the
 * real DynamoDB Local engine: one transaction per write, every condition
 * enforced by DynamoDB itself.
 */

let t: StoreTable;
beforeEach(async () => {
  t = await storeTable();
});
afterEach(async () => {
  await t.drop();
});

async function created(overrides: Partial<AccessRequest> = {}): Promise<AccessRequest> {
  const request = aRequest(overrides);
  await t.requests.commit(creation(request));
  return request;
}

describe('creating and reading a request', () => {
  it('reads back a created request exactly as it was written, without storage attributes', async () => {
    // Arrange
    const request = aRequest({ ticket: 'INC-42' });

    // Act
    await t.requests.commit(creation(request));

    // Assert
    expect(await t.requests.get(request.id)).toStrictEqual(request);
  });

  it('returns the request, its decisions and its events from one partition, events in time order', async () => {
    // Arrange
    const request = aRequest({ approvalsRequired: 2 });
    const create = creation(request);
    await t.requests.commit(create);
    const first = transition(request, { approvals: [bob] }, { action: 'APPROVAL_RECORDED', decision: aDecision(request, { approver: bob, at: minutes(1) }) });
    await t.requests.commit(first);
    const second = transition(first.request, { status: 'APPROVED', approvals: [bob, carol] }, { actor: carol, decision: aDecision(request, { approver: carol, at: minutes(2) }) });
    await t.requests.commit(second);

    // Act
    const detail = await t.requests.getDetail(request.id);

    // Assert
    expect(detail).toStrictEqual({
      request: second.request,
      decisions: [first.decision, second.decision],
      events: [...create.events, ...first.events, ...second.events],
    });
    expect(detail!.events.map((e) => e.at)).toEqual([request.createdAt, minutes(1), minutes(2)]);
  });

  it('returns undefined from get and getDetail for an unknown id', async () => {
    // Act
    const [request, detail] = await Promise.all([t.requests.get('no-such-request'), t.requests.getDetail('no-such-request')]);

    // Assert
    expect(request).toBeUndefined();
    expect(detail).toBeUndefined();
  });

  it('drops undefined optional fields instead of failing the write', async () => {
    // Arrange
    const request = aRequest({ ticket: undefined, endsAt: undefined });

    // Act
    await t.requests.commit(creation(request));

    // Assert
    const stored = await t.requests.get(request.id);
    expect(stored).toEqual(request);
    expect(stored).not.toHaveProperty('ticket');
  });

  it('refuses to create a request whose id already exists, and writes none of the new events', async () => {
    // Arrange
    const request = await created();
    const again = creation({ ...request, reason: 'a second attempt' });

    // Act
    const attempt = t.requests.commit(again);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toThrow('A request with this id already exists.');
    await expect(attempt).rejects.not.toBeInstanceOf(StaleWriteError);
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.request.reason).toBe(request.reason);
    expect(detail!.events.map((e) => e.id)).not.toContain(again.events[0]!.id);
  });
});

describe('optimistic concurrency', () => {
  it('refuses a write from a stale version with StaleWriteError, and writes neither the state nor its audit event', async () => {
    // Arrange
    const request = await created();
    await t.requests.commit(transition(request, { status: 'APPROVED' }));
    const stale = transition(request, { status: 'DENIED' }, { action: 'DENIED' });

    // Act
    const attempt = t.requests.commit(stale);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(StaleWriteError);
    await expect(attempt).rejects.toMatchObject({ why: 'changed' });
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.request).toMatchObject({ version: 2, status: 'APPROVED' });
    // The refusal hands back the request as stored, exactly as a read returns it.
    await expect(attempt).rejects.toHaveProperty('found', detail!.request);
    expect(detail!.events.map((e) => e.id)).not.toContain(stale.events[0]!.id);
    expect(detail!.events).toHaveLength(2);
  });

  it('lets exactly one of 50 concurrent writes from the same version through; the others get StaleWriteError', async () => {
    // Arrange
    const request = await created();
    const writes = Array.from({ length: 50 }, (_, i) => transition(request, { status: 'APPROVED', reason: `writer ${i}` }));

    // Act
    const outcomes = await Promise.allSettled(writes.map((w) => t.requests.commit(w)));

    // Assert
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    const refused = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    expect(won).toHaveLength(1);
    expect(refused).toHaveLength(49);
    for (const reason of refused) expect(reason).toBeInstanceOf(StaleWriteError);
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.request).toStrictEqual(writes[won[0]!]!.request);
    expect(detail!.events.map((e) => e.action)).toEqual(['REQUESTED', 'APPROVED']);
    expect(detail!.events[1]).toStrictEqual(writes[won[0]!]!.events[0]);
  });

  it('rejects a next state whose version does not follow the expected one, as a programming error, before writing', async () => {
    // Arrange
    const request = await created();
    const skipping = transition(request, { status: 'APPROVED' });
    skipping.request = { ...skipping.request, version: 5 };

    // Act
    const attempt = t.requests.commit(skipping);

    // Assert
    await expect(attempt).rejects.toThrow(/version 5 .* does not follow 1/);
    await expect(attempt).rejects.not.toBeInstanceOf(RolegateError);
    expect((await t.requests.get(request.id))!.version).toBe(1);
  });

  it('rejects a write that would not fit in one DynamoDB transaction', async () => {
    // Arrange
    const request = await created();
    const write = transition(request, { status: 'APPROVED' });
    write.events = Array.from({ length: 100 }, (_, i) => anEvent(request, { at: minutes(i) }));

    // Act
    const attempt = t.requests.commit(write);

    // Assert
    await expect(attempt).rejects.toThrow(/101 items exceed the 100/);
    expect((await t.requests.get(request.id))!.version).toBe(1);
    // A creation's idempotency claim is one of them: 99 events, the request and the claim are 101.
    const fresh = aRequest();
    const withClaim = { ...creation(fresh), events: Array.from({ length: 99 }, (_, i) => anEvent(fresh, { at: minutes(i) })), claim: 'key-0001' };
    await expect(t.requests.commit(withClaim)).rejects.toThrow(/101 items exceed the 100/);
    expect(await t.requests.get(fresh.id)).toBeUndefined();
  });

  it('reports a transaction cancelled by a concurrent transaction as StaleWriteError, contended, so the caller re-reads or writes again', async () => {
    // Arrange
    const request = await created();
    // DynamoDB Local serialises transactions, so the conflict DynamoDB reports under load is injected at the client.
    let armed = true;
    t.doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (!armed || context.commandName !== 'TransactWriteItemsCommand') return next(args);
        armed = false;
        throw new TransactionCanceledException({
          message: 'Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]',
          $metadata: { httpStatusCode: 400 },
          CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
        });
      },
      { step: 'initialize', name: 'storeTestTransactionConflict' },
    );

    // Act
    const attempt = t.requests.commit(transition(request, { status: 'APPROVED' }));

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(StaleWriteError);
    await expect(attempt).rejects.toMatchObject({ why: 'contended' });
    expect(armed).toBe(false);
  });

  it('cancels the whole write, and reports it as unexpected, when an audit event collides with a stored one', async () => {
    // Arrange
    const request = aRequest();
    const create = creation(request);
    await t.requests.commit(create);
    const write = transition(request, { status: 'APPROVED' });
    write.events = [create.events[0]!];

    // Act
    const attempt = t.requests.commit(write);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(TransactionCanceledException);
    await expect(attempt).rejects.not.toBeInstanceOf(RolegateError);
    expect(await t.requests.get(request.id)).toStrictEqual(request);
  });
});

describe("an extension's check that its original is not revoked (unlessRevoked)", () => {
  /*
   * A request that extends another commits only while that original exists
   * and is not REVOKED: the check is part of the same transaction, so a
   * revocation that lands between the extension's read and its commit wins.
   */

  it('commits an extension of a live original, with its event', async () => {
    // Arrange
    const original = await created({ status: 'ACTIVE' });
    const extension = aRequest({ extendsRequestId: original.id });
    const write = { ...creation(extension), unlessRevoked: original.id };

    // Act
    await t.requests.commit(write);

    // Assert
    const detail = await t.requests.getDetail(extension.id);
    expect(detail!.request).toStrictEqual(extension);
    expect(detail!.events).toEqual(write.events);
  });

  it.each<[string, (original: AccessRequest) => Promise<string>]>([
    [
      'was revoked',
      async (original) => {
        await t.requests.commit(transition(original, { status: 'REVOKED' }, { action: 'REVOKED' }));
        return original.id;
      },
    ],
    // A missing item has no status, so `#status <> :revoked` holds for it: only attribute_exists(pk) refuses it.
    ['does not exist', async () => 'no-such-request'],
  ])('refuses an extension whose original %s with a ConflictError, and writes nothing', async (_what, originalOf) => {
    // Arrange
    const extendsId = await originalOf(await created({ status: 'ACTIVE' }));
    const extension = aRequest({ extendsRequestId: extendsId });

    // Act
    const attempt = t.requests.commit({ ...creation(extension), unlessRevoked: extendsId });

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toMatchObject({ details: [{ field: 'extendsRequestId', reason: 'was revoked' }] });
    expect(await t.requests.getDetail(extension.id)).toBeUndefined();
  });
});

describe('transactions DynamoDB cancels for want of capacity', () => {
  /*
   * DynamoDB reports a transaction it lacks the capacity for as a
   * TransactionCanceledException whose reasons say ThrottlingError or
   * ProvisionedThroughputExceeded, which the SDK does not retry. Nothing was
   * written, so the store sends it again, a few times within a second.
   */

  it('commits a write whose first attempt was cancelled for throttling, once, with its event', async () => {
    // Arrange
    const request = await created();
    const write = transition(request, { status: 'APPROVED' });
    const dynamo = cancelTransactions(t.doc, 1);

    // Act
    await t.requests.commit(write);

    // Assert
    expect(dynamo).toEqual({ sent: 2, cancelled: 1 });
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.request).toStrictEqual(write.request);
    expect(detail!.events.slice(1)).toEqual(write.events);
  });

  it('retries ProvisionedThroughputExceeded the same way', async () => {
    // Arrange
    const request = await created();
    const write = transition(request, { status: 'APPROVED' });
    const dynamo = cancelTransactions(t.doc, 2, (items) => ['None', ...Array.from({ length: items - 1 }, () => 'ProvisionedThroughputExceeded')]);

    // Act
    await t.requests.commit(write);

    // Assert
    expect(dynamo).toEqual({ sent: 3, cancelled: 2 });
    expect(await t.requests.get(request.id)).toStrictEqual(write.request);
  });

  it('reports a throttling that outlasts its four attempts as the error it is, having written nothing', async () => {
    // Arrange
    const request = await created();
    const dynamo = cancelTransactions(t.doc, Infinity);

    // Act
    const attempt = t.requests.commit(transition(request, { status: 'APPROVED' }));

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(TransactionCanceledException);
    await expect(attempt).rejects.toMatchObject({ CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }] });
    await expect(attempt).rejects.not.toBeInstanceOf(RolegateError);
    expect(dynamo).toEqual({ sent: 4, cancelled: 4 });
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.request).toStrictEqual(request);
    expect(detail!.events).toHaveLength(1);
  });

  it('does not send again a transaction cancelled for a failed condition, even with a throttled item beside it', async () => {
    // Arrange
    const request = await created();
    const dynamo = cancelTransactions(t.doc, 1, () => ['ThrottlingError', 'ConditionalCheckFailed']);

    // Act
    const attempt = t.requests.commit(transition(request, { status: 'APPROVED' }));

    // Assert
    await expect(attempt).rejects.toMatchObject({ CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'ConditionalCheckFailed' }] });
    expect(dynamo).toEqual({ sent: 1, cancelled: 1 });
    expect(await t.requests.get(request.id)).toStrictEqual(request);
  });

  it('does not send again a stale write DynamoDB itself refused', async () => {
    // Arrange
    const request = await created();
    await t.requests.commit(transition(request, { status: 'APPROVED' }));
    const dynamo = cancelTransactions(t.doc, 0);

    // Act
    const attempt = t.requests.commit(transition(request, { status: 'DENIED' }));

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(StaleWriteError);
    expect(dynamo).toEqual({ sent: 1, cancelled: 0 });
  });

  it('appends audit events whose first transaction was cancelled for throttling', async () => {
    // Arrange
    const request = await created();
    const pair = [anEvent(request, { at: minutes(4), action: 'DRIFT_DETECTED' }), anEvent(request, { at: minutes(4), action: 'DRIFT_REPAIRED' })];
    const dynamo = cancelTransactions(t.doc, 1);

    // Act
    await t.requests.appendEvents(pair);

    // Assert
    expect(dynamo).toEqual({ sent: 2, cancelled: 1 });
    expect((await t.requests.getDetail(request.id))!.events.slice(1)).toEqual(pair);
  });
});

describe('decisions', () => {
  it('refuses a second decision by the same approver, whatever the case of the ARN, and writes nothing', async () => {
    // Arrange
    const request = await created({ approvalsRequired: 2 });
    const first = transition(request, { approvals: [bob] }, { action: 'APPROVAL_RECORDED', decision: aDecision(request, { approver: bob }) });
    await t.requests.commit(first);
    const shouted = bob.replace('user/Bob', 'user/BOB');
    const again = transition(first.request, { status: 'APPROVED', approvals: [bob, shouted] }, { decision: aDecision(request, { approver: shouted, at: minutes(5) }) });

    // Act
    const attempt = t.requests.commit(again);

    // Assert
    await expect(attempt).rejects.toBeInstanceOf(ConflictError);
    await expect(attempt).rejects.toThrow(`${shouted} has already decided on this request.`);
    await expect(attempt).rejects.toMatchObject({ details: [{ field: 'approvals', reason: 'already include the caller' }] });
    await expect(attempt).rejects.not.toBeInstanceOf(StaleWriteError);
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.request).toStrictEqual(first.request);
    expect(detail!.decisions).toStrictEqual([first.decision]);
    expect(detail!.events.map((e) => e.id)).not.toContain(again.events[0]!.id);
  });

  it('rejects a decision filed under another request as a programming error', async () => {
    // Arrange
    const request = await created();
    const write = transition(request, { status: 'APPROVED' }, { decision: aDecision({ id: 'some-other-request' }) });
    const before = await allItems(t);

    // Act
    const attempt = t.requests.commit(write);

    // Assert: nothing written under either request (getDetail could not show a decision under REQ#some-other-request: it has no request item).
    await expect(attempt).rejects.toThrow(/decision is for request some-other-request/);
    expect(await allItems(t)).toEqual(before);
  });
});

describe('appending the audit events of a finding that recurs (appendReport)', () => {
  /** A report quiet for a day; a lapse longer than any gap the calls leave unless a test names one. */
  const report = (fingerprint: string, at: string, lapseMinutes = 100 * 60) => ({ subject: '222222222222#rg-ReadOnly-alice-0a1b2c3d', fingerprint, at, quietHours: 24, lapseMinutes });
  const hours = (n: number) => minutes(n * 60);

  it('writes them when new, not again within the quiet hours, at once when the finding changes, and again after the quiet hours', async () => {
    // Arrange
    const request = await created();
    const drift = (at: string) => anEvent(request, { at, actor: 'rolegate', action: 'DRIFT_DETECTED', to: undefined });
    const calls: [string, string][] = [
      ['trust-changed', minutes(1)],
      ['trust-changed', minutes(16)],
      ['trust-changed', hours(23)],
      ['permissions-changed', hours(23.5)],
      ['permissions-changed', hours(47.5)],
      ['permissions-changed', hours(47.75)],
    ];
    const events = calls.map(([, at], i) => ({ ...drift(at), id: `01EVENT${i}` }));

    // Act
    const written: boolean[] = [];
    for (const [i, [fingerprint, at]] of calls.entries()) written.push(await t.requests.appendReport([events[i]!], report(fingerprint, at)));

    // Assert
    expect(written).toEqual([true, false, false, true, true, false]);
    expect((await t.requests.getDetail(request.id))!.events.slice(1).map((e) => e.id)).toEqual(['01EVENT0', '01EVENT3', '01EVENT4']);
  });

  it('writes them again for a finding not seen for its lapse (it went away and came back); each quiet call counts as seen', async () => {
    // Arrange: seen every 15 minutes for 45 minutes, then not for 75.
    const request = await created();
    const at = [0, 15, 30, 45, 120].map((m) => minutes(m));
    const events = at.map((when, i) => ({ ...anEvent(request, { at: when, actor: 'rolegate', action: 'DRIFT_DETECTED', to: undefined }), id: `01LAPSE${i}` }));

    // Act
    const written: boolean[] = [];
    for (const [i, when] of at.entries()) written.push(await t.requests.appendReport([events[i]!], report('trust-changed', when, 35)));

    // Assert: at 45 minutes the finding was last written 45 minutes before, but seen 15 minutes before.
    expect(written).toEqual([true, false, false, false, true]);
    expect((await t.requests.getDetail(request.id))!.events.map((e) => e.id).filter((id) => id.startsWith('01LAPSE'))).toEqual(['01LAPSE0', '01LAPSE4']);
  });

  it('writes the events and the record of the report together or not at all', async () => {
    // Arrange: an event id already stored, so the transaction is refused on the event.
    const request = await created();
    const stored = anEvent(request, { at: minutes(2), action: 'DRIFT_DETECTED' });
    await t.requests.appendEvents([stored]);

    // Act
    const attempt = t.requests.appendReport([stored], report('trust-changed', minutes(3)));

    // Assert: refused, and the finding not recorded as reported, so the next run's events are written.
    await expect(attempt).rejects.toBeInstanceOf(TransactionCanceledException);
    const next = anEvent(request, { at: minutes(18), action: 'DRIFT_DETECTED' });
    expect(await t.requests.appendReport([next], report('trust-changed', minutes(18)))).toBe(true);
    expect((await t.requests.getDetail(request.id))!.events.slice(1).map((e) => e.id)).toEqual([stored.id, next.id]);
  });

  it('sends again a transaction cancelled for throttling', async () => {
    // Arrange
    const request = await created();
    const event = anEvent(request, { at: minutes(4), action: 'DRIFT_DETECTED' });
    const dynamo = cancelTransactions(t.doc, 1);

    // Act
    const written = await t.requests.appendReport([event], report('trust-changed', minutes(4)));

    // Assert
    expect({ written, dynamo }).toEqual({ written: true, dynamo: { sent: 2, cancelled: 1 } });
    expect((await t.requests.getDetail(request.id))!.events.slice(1)).toEqual([event]);
  });
});

describe('appending audit events', () => {
  it('appends events that change no state, after the existing ones', async () => {
    // Arrange
    const request = await created();
    const events = [
      anEvent(request, { at: minutes(3), actor: 'rolegate', action: 'NOTIFICATION_FAILED', to: undefined, data: { kind: 'request.created', reason: 'timeout' } }),
      anEvent(request, { at: minutes(4), actor: 'rolegate', action: 'DRIFT_DETECTED', to: undefined }),
    ];

    // Act
    await t.requests.appendEvents([events[1]!]);
    await t.requests.appendEvents([events[0]!]);

    // Assert
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.request).toStrictEqual(request);
    expect(detail!.events.slice(1)).toEqual(events);
  });

  it('treats events already stored under the same id as written (a replayed call), without duplicating them', async () => {
    // Arrange
    const request = await created();
    const one = anEvent(request, { at: minutes(3), action: 'DRIFT_DETECTED' });
    const pair = [anEvent(request, { at: minutes(4), action: 'DRIFT_DETECTED' }), anEvent(request, { at: minutes(4), action: 'DRIFT_REPAIRED' })];
    await t.requests.appendEvents([one]);
    await t.requests.appendEvents(pair);

    // Act
    await t.requests.appendEvents([one]);
    await t.requests.appendEvents(pair);

    // Assert
    const detail = await t.requests.getDetail(request.id);
    expect(detail!.events.slice(1)).toEqual([one, ...pair]);
  });

  it('appends events while the request is at the version given, once (a replayed call adds nothing)', async () => {
    // Arrange
    const request = await created();
    const event = anEvent(request, { at: minutes(3), actor: 'rolegate', action: 'ACCESS_REMOVAL_ATTEMPT_FAILED', to: undefined, data: { writesBeforeError: ['DeleteRole'] } });

    // Act
    await t.requests.appendEventsWhileAt([event], request);
    await t.requests.appendEventsWhileAt([event], request); // a replayed call

    // Assert
    expect((await t.requests.getDetail(request.id))!.events.slice(1)).toEqual([event]);
  });

  it('appends nothing, and says nothing, once the request has moved on from the version given', async () => {
    // Arrange: the write the events were about landed after all.
    const request = await created();
    const moved = transition(request, { status: 'APPROVED' });
    await t.requests.commit(moved);
    const event = anEvent(request, { at: minutes(3), actor: 'rolegate', action: 'ACCESS_REMOVAL_ATTEMPT_FAILED', to: undefined });

    // Act
    await t.requests.appendEventsWhileAt([event], request);

    // Assert
    const events = (await t.requests.getDetail(request.id))!.events;
    expect(events.map((e) => e.action)).toEqual(['REQUESTED', 'APPROVED']);
    expect(events.at(-1)).toEqual(moved.events[0]);
  });

  it('never overwrites a stored event', async () => {
    // Arrange
    const request = await created();
    const original = anEvent(request, { at: minutes(3), action: 'DRIFT_DETECTED', comment: 'original' });
    await t.requests.appendEvents([original]);

    // Act
    await t.requests.appendEvents([{ ...original, comment: 'rewritten' }]);

    // Assert
    const out = await t.doc.send(new GetCommand({ TableName: t.tableName, Key: { pk: `REQ#${request.id}`, sk: `EVENT#${original.at}#${original.id}` } }));
    expect(out.Item?.comment).toBe('original');
  });
});
