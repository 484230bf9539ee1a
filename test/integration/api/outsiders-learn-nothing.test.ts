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
 * the request (it names the caller as rolegate took them). On DynamoDB Local,
 * through the HTTP API.
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
const decide = (who: string) => ({ status: 403, body: { error: 'FORBIDDEN', message: `${who} is not an approver under this request's rule.` } });
const retry = (who: string) => ({
  status: 403,
  body: { error: 'FORBIDDEN', message: `${who} may not retry this request: only an approver under its rule (or, under a rule that approves by itself, its requester) may.` },
});

it('are refused a decision or a retry in words that name nothing of the request', async () => {
  const pending = (await post('/requests', ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).body.request.id as string;
  const failed = (await post('/requests', ARN.alice, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' })).body.request.id as string;
  iam.failNext = [new ProvisioningError('IAM refused the role (AccessDenied)', 'AccessDenied', false)];
  expect((await provisionRequest(h.deps, failed)).outcome).toBe('failed');

  // bob is a requester, sre-sam an approver of another rule, app-billing a workload: none sees either request.
  for (const outsider of [ARN.bob, ARN.sreSam, ARN.appRole]) {
    for (const id of [pending, failed]) {
      expect(await call(h.api, { method: 'GET', path: `/requests/${id}`, caller: outsider })).toMatchObject({ status: 403 });
      expect(await post(`/requests/${id}/approve`, outsider)).toMatchObject(decide(outsider));
      expect(await post(`/requests/${id}/deny`, outsider, { comment: 'no' })).toMatchObject(decide(outsider));
      expect(await post(`/requests/${id}/retry`, outsider)).toMatchObject(retry(outsider));
    }
  }
  // Seeing and revoking are refused the same way, the cause in the log.
  const lastRefusal = () => h.logger.lines.filter((l) => l.message === 'request refused').at(-1)!.fields;
  expect((await call(h.api, { method: 'GET', path: `/requests/${pending}`, caller: ARN.bob })).status).toBe(403);
  expect(lastRefusal()).toMatchObject({ code: 'FORBIDDEN', reason: `${ARN.bob} may not see request ${pending} (rule "production-read")` });
  expect(await post(`/requests/${failed}/revoke`, ARN.bob, { comment: 'x' })).toMatchObject({ status: 403, body: { message: 'Only an approver of its rule, a responder, the requester or the grantee may revoke a request.' } });
  expect(lastRefusal()).toMatchObject({ code: 'FORBIDDEN', reason: `${ARN.bob} may not see request ${failed} (rule "staging-self-service")` });
  expect((await h.requests.get(pending))!).toMatchObject({ status: 'PENDING', version: 1 });
  expect((await h.requests.get(failed))!.status).toBe('FAILED');

  // Its rule taken out of the configuration: the same answers, not that the rule is gone.
  h.deps.settings = settingsWith((doc) => {
    doc.rules = (doc.rules as Array<{ id: string }>).filter((r) => r.id !== 'production-read');
  });
  expect(await post(`/requests/${pending}/approve`, ARN.bob)).toMatchObject(decide(ARN.bob));
  expect(await post(`/requests/${pending}/deny`, ARN.bob, { comment: 'no' })).toMatchObject(decide(ARN.bob));
  expect(await post(`/requests/${pending}/retry`, ARN.bob)).toMatchObject(retry(ARN.bob));
  // The cause is in the log, for whoever looks into the refusals.
  expect(lastRefusal()).toMatchObject({ code: 'FORBIDDEN', reason: `${ARN.bob} may not see request ${pending} (rule "production-read")` });

  // Positive controls: one who sees the requests (a responder) is still told which rule each is under.
  h.deps.settings = settingsWith(() => undefined);
  expect(await post(`/requests/${pending}/approve`, ARN.responder)).toMatchObject({ status: 403, body: { message: `${ARN.responder} is not an approver under rule "production-read".` } });
  expect(await post(`/requests/${failed}/retry`, ARN.responder)).toMatchObject({
    status: 403,
    body: { message: `Only the requester or an approver under rule "staging-self-service" may retry request ${failed}.` },
  });
  expect((await h.requests.get(failed))!.status).toBe('FAILED');
});
