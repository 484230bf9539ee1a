import { ProvisioningError } from '../../../src/domain/errors';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * A caller who may not see a request (not its requester or grantee, not an
 * approver of its rule, not a responder) and tries to decide on it or retry
 * it is refused before anything of the request is weighed: one answer, which
 * names neither its rule nor whether that rule is still configured, whatever
 * the request. On DynamoDB Local, through the HTTP API.
 */

let h: Harness;
let iam: RecordingProvisioner;
beforeEach(async () => {
  iam = new RecordingProvisioner();
  h = await harness({ provisioner: iam });
});
afterEach(async () => {
  await h.close();
});

const post = (path: string, caller: string, body: unknown = {}) => call(h.api, { method: 'POST', path, caller, body });
const DECIDE = { status: 403, body: { error: 'FORBIDDEN', message: 'Only the approvers of its rule may decide on this request.' } };
const RETRY = { status: 403, body: { error: 'FORBIDDEN', message: 'Only an approver of its rule (or, under a rule that approves by itself, its requester) may retry this request.' } };

it('are refused a decision or a retry in words that name nothing of the request', async () => {
  const pending = (await post('/requests', ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).body.request.id as string;
  const failed = (await post('/requests', ARN.alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).body.request.id as string;
  iam.failNext = [new ProvisioningError('IAM refused the role (AccessDenied)', 'AccessDenied', false)];
  expect((await provisionRequest(h.deps, failed)).outcome).toBe('failed');

  // bob is a requester, sre-sam an approver of another rule, app-billing a workload: none sees either request.
  for (const outsider of [ARN.bob, ARN.sreSam, ARN.appRole]) {
    for (const id of [pending, failed]) {
      expect(await call(h.api, { method: 'GET', path: `/requests/${id}`, caller: outsider })).toMatchObject({ status: 403 });
      expect(await post(`/requests/${id}/approve`, outsider)).toMatchObject(DECIDE);
      expect(await post(`/requests/${id}/deny`, outsider, { comment: 'no' })).toMatchObject(DECIDE);
      expect(await post(`/requests/${id}/retry`, outsider)).toMatchObject(RETRY);
    }
  }
  expect((await h.requests.get(pending))!).toMatchObject({ status: 'PENDING', version: 1 });
  expect((await h.requests.get(failed))!.status).toBe('FAILED');

  // Its rule taken out of the configuration: the same answers, not that the rule is gone.
  h.deps.settings = settingsWith((doc) => {
    doc.rules = (doc.rules as Array<{ id: string }>).filter((r) => r.id !== 'production-read');
  });
  expect(await post(`/requests/${pending}/approve`, ARN.bob)).toMatchObject(DECIDE);
  expect(await post(`/requests/${pending}/retry`, ARN.bob)).toMatchObject(RETRY);

  // A positive control: one who sees the request (a responder) is still told which rule it is under.
  h.deps.settings = settingsWith(() => undefined);
  expect(await post(`/requests/${pending}/approve`, ARN.responder)).toMatchObject({ status: 403, body: { message: `${ARN.responder} is not an approver under rule "production-read".` } });
});
