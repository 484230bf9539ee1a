import { ProvisioningError } from '../../../src/domain/errors';
import type { GrantSpec, ProvisionOutcome } from '../../../src/domain/ports';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

/* How failed provisioning attempts are re-driven and audited: never holding the queue, never growing the audit trail without bound, never losing the IAM writes made. */

const api = (arn: string) => ({ arn, via: 'api' as const });
const MINUTE = 60_000;

/** IAM for some requests so slow that every attempt runs out of lease time (OutOfTime) before its next call. */
class Crawling extends RecordingProvisioner {
  readonly slow = new Set<string>();
  override async apply(spec: GrantSpec, requestId: string): Promise<ProvisionOutcome> {
    if (spec.requestIds.some((id) => this.slow.has(id))) throw new ProvisioningError('AttachRolePolicy was not sent: too little time is left', 'OutOfTime', true);
    return super.apply(spec, requestId);
  }
}

let h: Harness;
let iam: Crawling;
beforeEach(async () => {
  iam = new Crawling();
  h = await harness({ provisioner: iam });
});
afterEach(async () => {
  await h.close();
});

const readOnly = (arn: string, reason: string) => createRequest(h.deps, api(arn), { account: 'staging', profile: 'ReadOnly', durationMinutes: 400, reason });

it('a request whose provisioning keeps running out of time does not hold the head of the queue, and counts once', async () => {
  const slow = await readOnly(ARN.alice, 'slow');
  h.clock.advance(1000);
  const next = await readOnly(ARN.bob, 'next');
  iam.slow.add(slow.id);

  for (let tick = 0; tick < 5; tick++) {
    h.clock.advance(5 * MINUTE);
    await sweep(h.deps, { batchSize: 1 });
  }

  // Behind the slow one in the due index (older first), and provisioned all the same.
  expect((await h.requests.get(next.id))!.status).toBe('ACTIVE');
  // Put off for time again and again: one attempt counted, the first, which takes it off the worker's stream filter (attempts 0).
  expect(await h.requests.get(slow.id)).toMatchObject({ status: 'APPROVED', provisioningAttempts: 1 });
});

it('audits a failing undo once per counted attempt, not at every re-drive after', async () => {
  // An account whose provisioner role refuses everything: the undo of a refused attempt fails too.
  const denied = () => new ProvisioningError('AssumeRole into the provisioner role failed (AccessDenied)', 'AccessDenied', false);
  iam.apply = async () => {
    throw denied();
  };
  iam.remove = async () => {
    throw denied();
  };
  const r = await readOnly(ARN.alice, 'a');
  await provisionRequest(h.deps, r.id);
  for (let i = 0; i < 20; i++) {
    h.clock.advance(3 * MINUTE);
    await sweep(h.deps);
  }

  const detail = (await h.requests.getDetail(r.id))!;
  expect(detail.request).toMatchObject({ status: 'APPROVED' });
  expect(detail.request.provisioningAttempts).toBeGreaterThan(10);
  const attempts = detail.events.filter((e) => e.action === 'PROVISIONING_ATTEMPT_FAILED');
  expect(attempts.map((e) => e.data!.attempts)).toEqual([1, 2, 3, 4, 5]);
  expect(attempts.every((e) => e.data!.undo === 'failed')).toBe(true);
  expect(h.metrics.counts.get('ProvisioningFailed')).toBe(detail.request.provisioningAttempts);
});

it('lists the IAM writes of an attempt that failed after them, on a DynamoDB error', async () => {
  const r = await readOnly(ARN.alice, 'a');
  const save = h.deps.grants.save.bind(h.deps.grants);
  let once = true;
  h.deps.grants.save = async (lease, grant) => {
    if (once) {
      once = false;
      throw new Error('ProvisionedThroughputExceededException');
    }
    return save(lease, grant);
  };
  h.clock.advance(5 * MINUTE);
  await sweep(h.deps);

  const attempt = (await h.requests.getDetail(r.id))!.events.at(-1)!;
  expect(attempt).toMatchObject({ action: 'PROVISIONING_ATTEMPT_FAILED', data: { awsCode: 'UnexpectedError', attempts: 1, writesBeforeError: ['UpsertRole', 'PutUserPolicy'] } });
});
