import { DynamoRequestStore } from '../../../src/adapters/dynamodb/request-store';
import { ConflictError } from '../../../src/domain/errors';
import type { Actor } from '../../../src/domain/model';
import type { ProvisioningDeps } from '../../../src/domain/use-cases/provisionRequest';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { cancelRequest } from '../../../src/domain/use-cases/cancelRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { harness, type Harness } from '../../helpers/harness';
import { countReads } from '../../helpers/read-counter';
import { ARN } from '../../helpers/settings';

/*
 * An approval decided on the snapshot this container already holds (no
 * read), against the real DynamoDB Local engine. A second request store on
 * the same table stands for another Lambda container: whatever it wrote
 * meanwhile must win, and no refusal may be given on a stale snapshot.
 */

const as = (arn: string): Actor => ({ arn, via: 'api' });
const TWO_APPROVALS = { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'resize' };
const ONE_LEAD = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' };

let h: Harness;
let reads: ReturnType<typeof countReads>;
/** The same use-cases in another container: its own store, so its own (empty) memory. */
let elsewhere: ProvisioningDeps;
beforeEach(async () => {
  h = await harness();
  reads = countReads(h.requests.doc);
  elsewhere = { ...h.deps, requests: new DynamoRequestStore(h.requests.doc, h.tableName) };
});
afterEach(async () => {
  await h.close();
});

it('records an approval without reading the request when this container has just written it', async () => {
  const request = await createRequest(h.deps, as(ARN.alice), TWO_APPROVALS);
  reads.reset();

  const next = await decideRequest(h.deps, as(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });

  expect(reads.calls).toEqual({});
  expect(next).toMatchObject({ status: 'PENDING', version: 2, approvals: [ARN.leadAnna] });
  expect(await h.requests.get(request.id)).toStrictEqual(next);
});

it('records a denial on the snapshot too, without a read', async () => {
  const request = await createRequest(h.deps, as(ARN.alice), ONE_LEAD);
  reads.reset();

  const next = await decideRequest(h.deps, as(ARN.leadAnna), { requestId: request.id, decision: 'DENY', comment: 'not today' });

  expect(reads.calls).toEqual({});
  expect(next).toMatchObject({ status: 'DENIED', version: 2 });
  expect(await h.requests.get(request.id)).toStrictEqual(next);
});

it('reads the request in a container that has not seen it, and decides the same', async () => {
  const request = await createRequest(h.deps, as(ARN.alice), TWO_APPROVALS);
  reads.reset();

  const next = await decideRequest(elsewhere, as(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });

  expect(reads.calls).toEqual({ GetItemCommand: 1 });
  expect(next).toMatchObject({ status: 'PENDING', version: 2, approvals: [ARN.leadAnna] });
});

it('counts an approval another container recorded after the snapshot was taken: the second approval completes the request', async () => {
  const request = await createRequest(h.deps, as(ARN.alice), TWO_APPROVALS);
  await decideRequest(elsewhere, as(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });
  reads.reset();

  // This container's snapshot still says PENDING with no approvals at version 1.
  const next = await decideRequest(h.deps, as(ARN.sreSam), { requestId: request.id, decision: 'APPROVE' });

  // The snapshot's transaction failed its version condition and handed back the request as stored: no read.
  expect(reads.calls).toEqual({});
  expect(reads.returnedByWrites).toBe(1);
  expect(next).toMatchObject({ status: 'APPROVED', version: 3, approvals: [ARN.leadAnna, ARN.sreSam] });
  const detail = (await h.requests.getDetail(request.id))!;
  expect(detail.request).toStrictEqual(next);
  expect(detail.decisions.map((d) => d.approver)).toEqual([ARN.leadAnna, ARN.sreSam]);
  expect(detail.events.map((e) => e.action)).toEqual(['REQUESTED', 'APPROVAL_RECORDED', 'APPROVED']);
});

it('refuses a second approval by the same approver even when the first was recorded in another container', async () => {
  const request = await createRequest(h.deps, as(ARN.alice), TWO_APPROVALS);
  await decideRequest(elsewhere, as(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });
  reads.reset();

  await expect(decideRequest(h.deps, as(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' })).rejects.toThrow(
    new ConflictError(`${ARN.leadAnna} has already approved request ${request.id}.`),
  );
  // Refused on the request the failed write found (as exact as a read), not on the snapshot.
  expect(reads.calls).toEqual({});
  expect(reads.returnedByWrites).toBe(1);
  expect(await h.requests.get(request.id)).toMatchObject({ version: 2, approvals: [ARN.leadAnna] });
});

it('refuses an approval of a request cancelled in another container, naming its state as stored, and writes nothing', async () => {
  const request = await createRequest(h.deps, as(ARN.alice), ONE_LEAD);
  await cancelRequest(elsewhere, as(ARN.alice), request.id);

  const attempt = decideRequest(h.deps, as(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });

  await expect(attempt).rejects.toThrow(`Request ${request.id} is no longer pending: it is CANCELLED.`);
  const detail = (await h.requests.getDetail(request.id))!;
  expect(detail.request).toMatchObject({ status: 'CANCELLED', version: 2 });
  expect(detail.decisions).toEqual([]);
});

it('gives a refusal on the stored state, never on the snapshot: ACTIVE, not the APPROVED this container last wrote', async () => {
  const request = await createRequest(h.deps, as(ARN.alice), ONE_LEAD);
  await decideRequest(h.deps, as(ARN.leadAnna), { requestId: request.id, decision: 'APPROVE' });
  await provisionRequest(elsewhere, request.id);
  reads.reset();

  const attempt = decideRequest(h.deps, as(ARN.leadBen), { requestId: request.id, decision: 'APPROVE' });

  await expect(attempt).rejects.toThrow(`Request ${request.id} is no longer pending: it is ACTIVE.`);
  // The snapshot (APPROVED) would refuse, so nothing was written on it: the refusal comes from a read.
  expect(reads.calls).toEqual({ GetItemCommand: 1 });
  expect(await h.requests.get(request.id)).toMatchObject({ status: 'ACTIVE', approvals: [ARN.leadAnna] });
});
