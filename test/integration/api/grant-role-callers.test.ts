import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';

/*
 * rolegate's own grant roles (`rg-…` in an account it manages) are never a
 * requester, a grantee or an approver: their sessions are whoever holds the
 * grant. Where the identity account is also one rolegate grants access in,
 * and approver patterns reach roles (`role/*`), a requester signed in through
 * a grant rolegate gave them could otherwise approve their own request. The
 * person check cannot see it: the session name of a grant role is the
 * caller's own choice. Through the HTTP API, on DynamoDB Local.
 */

type Doc = Record<string, any>;
const IDENTITY = '111111111111';
const settings = settingsWith((doc: Doc) => {
  doc.accounts.push({ id: IDENTITY, alias: 'identity', name: 'Identity', provisionerRoleArn: `arn:aws:iam::${IDENTITY}:role/rolegate-provisioner`, externalId: 'rolegate-identity-1a2b' });
  doc.rules.unshift({
    id: 'identity-self-service',
    requesters: [`arn:aws:iam::${IDENTITY}:user/*`, `arn:aws:iam::${IDENTITY}:role/*`],
    accounts: ['identity'],
    profiles: ['ReadOnly'],
    maxDurationMinutes: 60,
    autoApprove: true,
  });
  const read = doc.rules.find((r: Doc) => r.id === 'production-read');
  read.approvers.push(`arn:aws:iam::${IDENTITY}:role/*`);
  read.workloadPrincipals = [`arn:aws:iam::${IDENTITY}:role/*`];
});
/** Alice, signed in through the ReadOnly grant rolegate gave her in the identity account (any session name she likes). */
const ALICE_THROUGH_GRANT = `arn:aws:sts::${IDENTITY}:assumed-role/rg-ReadOnly-alice-d3acb6d9/lead-anna`;
const OPS_ROLE = `arn:aws:sts::${IDENTITY}:assumed-role/ops-approver/carol`;
const refused = (what: string, arn = `arn:aws:iam::${IDENTITY}:role/rg-ReadOnly-alice-d3acb6d9`) => `${arn} is a role rolegate grants (rg-… in account ${IDENTITY}): its sessions are whoever holds that grant, so it may not ${what}. Sign in as yourself.`;

let h: Harness;
beforeEach(async () => {
  h = await harness({ settings });
});
afterEach(async () => {
  await h.close();
});

const read = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' };

it('refuses an approval or a deny through a grant role (403), writing nothing; a role the approver patterns name approves', async () => {
  const made = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: read });
  expect(made.status).toBe(201);
  const id = made.body.request.id;
  const before = await allItems(h);

  const res = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ALICE_THROUGH_GRANT, body: {} });

  const deny = await call(h.api, { method: 'POST', path: `/requests/${id}/deny`, caller: ALICE_THROUGH_GRANT, body: { comment: 'no' } });

  expect(res.status).toBe(403);
  expect(res.body).toEqual({ error: 'FORBIDDEN', message: refused('decide on a request') });
  expect(deny.body).toEqual({ error: 'FORBIDDEN', message: refused('decide on a request') });
  expect(await allItems(h)).toEqual(before);
  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: OPS_ROLE, body: {} })).body.request).toMatchObject({ status: 'APPROVED', approvals: [`arn:aws:iam::${IDENTITY}:role/ops-approver`] });
});

it('offers a grant role nothing in view=awaiting; a role the approver patterns name is offered the request', async () => {
  const id = (await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: read })).body.request.id;
  const awaiting = async (caller: string) => (await call(h.api, { method: 'GET', path: '/requests', caller, query: { view: 'awaiting' } })).body.items.map((r: { id: string }) => r.id);

  expect(await awaiting(ALICE_THROUGH_GRANT)).toEqual([]);
  expect(await awaiting(OPS_ROLE)).toEqual([id]);
});

it('refuses a grant role as requester and as grantee, writing nothing; other roles request as the rule allows', async () => {
  const before = await allItems(h);

  const asRequester = await call(h.api, { method: 'POST', path: '/requests', caller: ALICE_THROUGH_GRANT, body: { ...read, account: 'identity' } });
  const grantRole = `arn:aws:iam::${IDENTITY}:role/rolegate/rg-ReadOnly-alice-d3acb6d9`;
  const asGrantee = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...read, principalArn: grantRole } });

  expect([asRequester.status, asRequester.body.message]).toEqual([403, refused('request access')]);
  expect([asGrantee.status, asGrantee.body.message]).toEqual([403, refused('be given access', grantRole)]);
  expect(await allItems(h)).toEqual(before);
  expect((await call(h.api, { method: 'POST', path: '/requests', caller: OPS_ROLE, body: { ...read, account: 'identity' } })).status).toBe(201);
  expect((await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...read, principalArn: `arn:aws:iam::${IDENTITY}:role/app-billing` } })).status).toBe(201);
});

it('takes an rg- role of an account rolegate does not manage for what it is: any other role', async () => {
  const elsewhere = settingsWith((doc: Doc) => {
    doc.rules.find((r: Doc) => r.id === 'production-read').approvers.push(`arn:aws:iam::${IDENTITY}:role/*`);
  });
  h.deps.settings = elsewhere;
  const id = (await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: read })).body.request.id;
  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ALICE_THROUGH_GRANT, body: {} })).status).toBe(200);
});

it('counts no approval a grant role gave before rolegate refused them: such a request is not provisioned, and a retry counts without it', async () => {
  const id = (await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: read })).body.request.id;
  // As an older rolegate recorded it: approved by the grant role's session, now APPROVED.
  const stored = (await h.requests.get(id))!;
  const grantRole = `arn:aws:iam::${IDENTITY}:role/rg-ReadOnly-alice-d3acb6d9`;
  await h.requests.commit({ request: { ...stored, version: stored.version + 1, status: 'APPROVED', approvals: [grantRole], approvedAt: stored.createdAt, endsAt: '2026-03-02T10:00:00.000Z' }, expectedVersion: stored.version, events: [] });

  const provisioned = await provisionRequest(h.deps, id);

  expect(provisioned.outcome).toBe('failed');
  expect(provisioned.request!.failure).toMatchObject({ code: 'ConfigurationChanged', message: expect.stringContaining(`was approved by ${grantRole}, a role rolegate grants`) });
  const retry = await call(h.api, { method: 'POST', path: `/requests/${id}/retry`, caller: OPS_ROLE, body: {} });
  expect([retry.status, retry.body.message]).toEqual([409, expect.stringContaining('now needs 1 approval(s) from its current approvers, and request')]);
  const asGrant = await call(h.api, { method: 'POST', path: `/requests/${id}/retry`, caller: ALICE_THROUGH_GRANT, body: {} });
  expect([asGrant.status, asGrant.body.message]).toEqual([403, refused('decide on a request')]);
});

it('takes an rg- role of a name rolegate never derives (no 8-hex ending) for what it is: any other role', async () => {
  const id = (await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: read })).body.request.id;
  const readers = `arn:aws:sts::${IDENTITY}:assumed-role/rg-readers/carol`;
  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: readers, body: {} })).body.request).toMatchObject({ status: 'APPROVED' });
});
