import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { requestKey } from '../../../src/adapters/dynamodb/keys';
import { DynamoRequestStore } from '../../../src/adapters/dynamodb/request-store';
import { StaleWriteError } from '../../../src/domain/errors';
import { aRequest, bob, creation, storeTable, transition, type StoreTable } from '../../helpers/store-fixtures';

/*
 * DynamoRequestStore.snapshot: the request as this process last committed
 * or read it, kept in memory and bounded, against the real DynamoDB Local
 * engine. A second store on the same table stands for another Lambda
 * container.
 */

let t: StoreTable;
beforeEach(async () => {
  t = await storeTable();
});
afterEach(async () => {
  await t.drop();
});

describe('what a store remembers', () => {
  it('knows nothing of a request it has neither written nor read', async () => {
    const request = aRequest();
    await t.requests.commit(creation(request));
    const other = new DynamoRequestStore(t.doc, t.tableName);

    expect(other.snapshot(request.id)).toBeUndefined();
    expect(t.requests.snapshot('req-never-made')).toBeUndefined();
  });

  it('remembers each request exactly as it last committed it', async () => {
    const request = aRequest();
    await t.requests.commit(creation(request));
    expect(t.requests.snapshot(request.id)).toStrictEqual(request);

    const approved = transition(request, { status: 'APPROVED', approvals: [bob] });
    await t.requests.commit(approved);

    expect(t.requests.snapshot(request.id)).toStrictEqual(approved.request);
  });

  it('remembers what get and getDetail read, including another container\'s write', async () => {
    const request = aRequest();
    await t.requests.commit(creation(request));
    const other = new DynamoRequestStore(t.doc, t.tableName);
    await other.get(request.id);
    expect(other.snapshot(request.id)).toStrictEqual(request);

    const approved = transition(request, { status: 'APPROVED', approvals: [bob] });
    await other.commit(approved);
    expect(t.requests.snapshot(request.id)).toStrictEqual(request); // stale until it reads again

    await t.requests.getDetail(request.id);
    expect(t.requests.snapshot(request.id)).toStrictEqual(approved.request);
  });

  it('remembers a request whose commit was refused as stale as the refused write found it stored, not as it was to be written', async () => {
    const request = aRequest();
    await t.requests.commit(creation(request));
    const other = new DynamoRequestStore(t.doc, t.tableName);
    const cancelled = transition(request, { status: 'CANCELLED' });
    await other.commit(cancelled);

    await expect(t.requests.commit(transition(request, { status: 'APPROVED', approvals: [bob] }))).rejects.toBeInstanceOf(StaleWriteError);

    expect(t.requests.snapshot(request.id)).toStrictEqual(cancelled.request);
  });

  it('forgets a request whose stale commit found it gone, so the next decision reads it again', async () => {
    const request = aRequest();
    await t.requests.commit(creation(request));
    await t.doc.send(new DeleteCommand({ TableName: t.tableName, Key: requestKey(request.id) }));

    const attempt = t.requests.commit(transition(request, { status: 'APPROVED', approvals: [bob] }));

    await expect(attempt).rejects.toBeInstanceOf(StaleWriteError);
    await expect(attempt).rejects.toMatchObject({ why: 'changed', found: undefined });
    expect(t.requests.snapshot(request.id)).toBeUndefined();
  });

  it('keeps a copy of what it committed and hands out copies: changing any of them changes neither the snapshot nor the next copy', async () => {
    const request = aRequest();
    const asCommitted = structuredClone(request);
    await t.requests.commit(creation(request));

    request.approvals.push(bob);
    const first = t.requests.snapshot(request.id)!;
    first.approvals.push(bob);
    first.status = 'APPROVED';

    expect(t.requests.snapshot(request.id)).toStrictEqual(asCommitted);
  });

  it('forgets a request when a commit fails without an answer (the write may or may not have landed)', async () => {
    const request = aRequest();
    await t.requests.commit(creation(request));
    const lost = new Error('socket hang up');
    t.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'TransactWriteItemsCommand') throw lost;
        return out;
      },
      { step: 'initialize', name: 'loseTheAnswer' },
    );
    const approved = transition(request, { status: 'APPROVED', approvals: [bob] });

    await expect(t.requests.commit(approved)).rejects.toBe(lost);

    expect(t.requests.snapshot(request.id)).toBeUndefined();
    expect(await t.requests.get(request.id)).toStrictEqual(approved.request); // it had landed
  });

  it('keeps its newer snapshot when a read that started before its own commit is answered after it', async () => {
    const request = aRequest();
    await t.requests.commit(creation(request));
    let answered!: () => void;
    let readDone!: () => void;
    const held = new Promise<void>((resolve) => (answered = resolve));
    const dynamoRead = new Promise<void>((resolve) => (readDone = resolve));
    t.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'GetItemCommand') {
          readDone(); // DynamoDB has read version 1 ...
          await held; // ... and the answer comes late
        }
        return out;
      },
      { step: 'initialize', name: 'lateRead' },
    );

    const read = t.requests.get(request.id);
    await dynamoRead;
    const approved = transition(request, { status: 'APPROVED', approvals: [bob] });
    await t.requests.commit(approved);
    answered();

    expect(await read).toStrictEqual(request);
    expect(t.requests.snapshot(request.id)).toStrictEqual(approved.request);
  });

  it('keeps at most its capacity, dropping the request it stored longest ago', async () => {
    const store = new DynamoRequestStore(t.doc, t.tableName, 2);
    const [a, b, c] = [aRequest(), aRequest(), aRequest()];
    await store.commit(creation(a));
    await store.commit(creation(b));
    await store.get(a.id); // a read refreshes a: b is now the oldest

    await store.commit(creation(c));

    expect(store.snapshot(a.id)).toStrictEqual(a);
    expect(store.snapshot(b.id)).toBeUndefined();
    expect(store.snapshot(c.id)).toStrictEqual(c);
  });
});
