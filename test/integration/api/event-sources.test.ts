import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { allItems } from '../../helpers/table';
import { ARN } from '../../helpers/settings';

/*
 * Every person-made change records where it came from, as API Gateway saw
 * the call (never a body field): the client's address, its User-Agent, API
 * Gateway's request id and, for an assumed-role caller, the session. The API
 * shows that to responders; the requester and approvers see only how the
 * change came. On DynamoDB Local, through the HTTP API.
 */

const RESPONDER_SESSION = 'arn:aws:sts::111111111111:assumed-role/security-oncall/jo';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: Harness;
beforeEach(async () => {
  h = await harness({ provisioner: new RecordingProvisioner() });
});
afterEach(async () => {
  await h.close();
});

async function grantedAndRevoked(): Promise<string> {
  const request = (body: object) =>
    call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, sourceIp: '198.51.100.20', userAgent: `rolegate-cli/1.0\r\nX-Forged: yes\u0000${'x'.repeat(300)}`, body });
  const asked = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'look' };
  // The body cannot name a source: the extra fields are refused and nothing is written.
  expect(await request({ ...asked, sourceIp: '10.9.9.9', source: { via: 'slack' } })).toMatchObject({ status: 400 });
  expect(await allItems(h)).toEqual([]);
  const id = (await request(asked)).body.request.id as string;
  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, sourceIp: '192.0.2.44', userAgent: 'Mozilla/5.0' })).status).toBe(200);
  expect((await provisionRequest(h.deps, id)).outcome).toBe('active');
  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/revoke`, caller: RESPONDER_SESSION, body: { comment: 'incident' } })).status).toBe(200);
  return id;
}

it('are recorded on each event a person made, sanitised, and not on rolegate’s own', async () => {
  const id = await grantedAndRevoked();
  const events = (await h.requests.getDetail(id))!.events;
  const by = (action: string) => events.find((e) => e.action === action)!;

  expect(by('REQUESTED').source).toEqual({
    via: 'api',
    sourceIp: '198.51.100.20',
    // Control characters become one space and the text is cut to 200 characters: no forged lines in the trail.
    userAgent: `rolegate-cli/1.0 X-Forged: yes ${'x'.repeat(200 - 'rolegate-cli/1.0 X-Forged: yes '.length)}`,
    apiRequestId: expect.stringMatching(UUID),
  });
  expect(by('APPROVED').source).toEqual({ via: 'api', sourceIp: '192.0.2.44', userAgent: 'Mozilla/5.0', apiRequestId: expect.stringMatching(UUID) });
  // An assumed-role caller counts as its role; the session names the person at the keyboard.
  expect(by('REVOKED')).toMatchObject({ actor: ARN.responder, source: { via: 'api', session: RESPONDER_SESSION, sourceIp: '203.0.113.7' } });
  expect(by('REQUESTED').source!.apiRequestId).not.toBe(by('APPROVED').source!.apiRequestId);
  for (const action of ['PROVISIONED', 'ACCESS_REMOVED']) expect(by(action).source).toBeUndefined();
});

it('are shown in full to responders only; the requester and approvers see how each change came', async () => {
  const id = await grantedAndRevoked();
  const stored = (await h.requests.getDetail(id))!.events;

  const asResponder = await call(h.api, { method: 'GET', path: `/requests/${id}`, caller: RESPONDER_SESSION });
  expect(asResponder.body.events).toEqual(stored);

  for (const caller of [ARN.alice, ARN.leadAnna]) {
    const seen = await call(h.api, { method: 'GET', path: `/requests/${id}`, caller });
    expect(seen.status).toBe(200);
    expect(seen.body.events.map((e: { action: string; source?: unknown }) => [e.action, e.source])).toEqual(
      stored.map((e) => [e.action, e.source ? { via: 'api' } : undefined]),
    );
    expect(JSON.stringify(seen.body)).not.toMatch(/198\.51\.100\.20|192\.0\.2\.44|Mozilla|security-oncall\/jo/);
  }
});
