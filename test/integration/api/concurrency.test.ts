import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { ConflictError } from '../../../src/domain/errors';
import { harness, type Harness } from '../../helpers/harness';
import { ARN } from '../../helpers/settings';

describe('concurrent approvals', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  it('records exactly two decisions and one transition when 50 approvers race on a two-approval request', async () => {
    const request = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'race' });
    const approvers = Array.from({ length: 50 }, (_, i) => `arn:aws:iam::111111111111:user/${i % 2 ? 'lead' : 'sre'}-${i}`);

    const results = await Promise.allSettled(approvers.map((arn) => decideRequest(h.deps, { arn, via: 'api' }, { requestId: request.id, decision: 'APPROVE' })));

    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(48);
    expect(refused.every((r) => r.reason instanceof ConflictError)).toBe(true);
    const detail = await h.requests.getDetail(request.id);
    expect(detail!.request.status).toBe('APPROVED');
    expect(detail!.request.approvals).toHaveLength(2);
    expect(detail!.decisions).toHaveLength(2);
    expect(detail!.events.filter((e: { action: string }) => e.action === 'APPROVED')).toHaveLength(1);
    expect(detail!.events.filter((e: { action: string }) => e.action === 'APPROVAL_RECORDED')).toHaveLength(1);
    expect(h.queue.ids).toEqual([request.id]);
  });
});
