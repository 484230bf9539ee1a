import { ProvisioningError } from '../../../src/domain/errors';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { call, apiEvent, lambdaContext } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';
import { httpApp } from '../../../src/handlers/http/app';
import { identityOptionsFor } from '../../../src/handlers/http/middlewares';
import { routes } from '../../../src/handlers/http/routes';

/*
 * One person, several roles. Signed in through IAM Identity Center, a person
 * is a session of a permission-set role, and the same person may hold several
 * sets (Developer, Lead, SRE) or reach rolegate by another sign-in (OIDC).
 * The principal is the role; the person is the Identity Center user name
 * (the session name, which Identity Center sets) or the OIDC claim. Nobody
 * may approve their own request through another role, nor count twice
 * toward a two-person rule. Through the HTTP API, on DynamoDB Local.
 */

const SSO = 'arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/';
const DEVELOPER = 'AWSReservedSSO_Developer_0a1b2c3d4e5f6a7b';
const LEAD = 'AWSReservedSSO_Lead_9f8e7d6c5b4a3f2e';
const SRE = 'AWSReservedSSO_SRE_1122334455667788';
/** The caller ARN API Gateway's IAM authorizer reports for a person signed in through a permission set. */
const session = (set: string, user: string) => `arn:aws:sts::111111111111:assumed-role/${set}/${user}`;

type Doc = Record<string, any>;
const ssoSettings = (leadsApproveAdmin = true) =>
  settingsWith((doc: Doc) => {
    doc.rolePaths = [{ roleName: 'AWSReservedSSO_*', path: '/aws-reserved/sso.amazonaws.com/eu-west-1/' }];
    const rule = (id: string): Doc => doc.rules.find((r: Doc) => r.id === id);
    rule('production-read').requesters.push(`${SSO}${DEVELOPER}`);
    rule('production-read').approvers.push(`${SSO}${LEAD}`);
    rule('admin-two-approvals').requesters.push(`${SSO}${DEVELOPER}`);
    rule('admin-two-approvals').approvers.push(...(leadsApproveAdmin ? [`${SSO}${LEAD}`] : []), `${SSO}${SRE}`);
    doc.oidc = { issuer: 'https://login.example.com', audience: ['rolegate'], claim: 'email', principals: { 'alice@example.com': ARN.alice } };
  });
const settings = ssoSettings();
const read = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' };
const admin = { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'resize the fleet' };

let h: Harness;
beforeEach(async () => {
  h = await harness({ settings });
});
afterEach(async () => {
  await h.close();
});

async function requested(caller: string, body: object): Promise<string> {
  const res = await call(h.api, { method: 'POST', path: '/requests', caller, body });
  expect(res.status).toBe(201);
  return res.body.request.id;
}

it('refuses the requester approving through another permission set (403), writing nothing; another lead then approves', async () => {
  const id = await requested(session(DEVELOPER, 'alice@example.com'), read);
  const before = await allItems(h);

  // The Lead set is a different role from the Developer set: only the person ties them.
  for (const user of ['alice@example.com', 'Alice@Example.com']) {
    const own = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(LEAD, user), body: {} });
    expect(own.status).toBe(403);
    expect(own.body.message).toBe('Nobody may decide on their own request: alice@example.com asked for it, signed in through another role.');
  }
  expect(await allItems(h)).toEqual(before);

  const other = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(LEAD, 'bob@example.com'), body: {} });
  expect(other.status).toBe(200);
  expect(other.body.request).toMatchObject({ status: 'APPROVED', requester: `${SSO}${DEVELOPER}`, requesterPerson: 'alice@example.com', approverPersons: ['bob@example.com'] });
  const detail = (await h.requests.getDetail(id))!;
  expect(detail.decisions).toEqual([expect.objectContaining({ approver: `${SSO}${LEAD}`, person: 'bob@example.com', decision: 'APPROVE' })]);
  // The audit trail names the person behind each role.
  expect(detail.events.map((e) => [e.action, e.actorPerson])).toEqual([
    ['REQUESTED', 'alice@example.com'],
    ['APPROVED', 'bob@example.com'],
  ]);
});

it('refuses the requester sending their failed request back to provisioning through another permission set (403); another lead then may', async () => {
  const iam = new RecordingProvisioner();
  const own = await harness({ settings, provisioner: iam });
  try {
    const created = await call(own.api, { method: 'POST', path: '/requests', caller: session(DEVELOPER, 'alice@example.com'), body: read });
    const id = created.body.request.id as string;
    expect((await call(own.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: {} })).status).toBe(200);
    iam.failNext = [new ProvisioningError('IAM refused the role (AccessDenied)', 'AccessDenied', false)];
    expect((await provisionRequest(own.deps, id)).outcome).toBe('failed');
    const before = await allItems(own);

    const retried = await call(own.api, { method: 'POST', path: `/requests/${id}/retry`, caller: session(LEAD, 'alice@example.com'), body: {} });
    expect(retried).toMatchObject({ status: 403, body: { message: 'Nobody may decide on their own request: alice@example.com asked for it, signed in through another role.' } });
    expect(await allItems(own)).toEqual(before);
    expect(await call(own.api, { method: 'POST', path: `/requests/${id}/retry`, caller: session(LEAD, 'anna@example.com'), body: {} })).toMatchObject({ status: 200, body: { request: { status: 'APPROVED' } } });
  } finally {
    await own.close();
  }
});

it('counts one person once toward a two-person rule, whichever set they approve through (409); a second person completes it', async () => {
  const id = await requested(session(DEVELOPER, 'carol@example.com'), admin);

  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(LEAD, 'bob@example.com'), body: {} })).body.request).toMatchObject({ status: 'PENDING', approvals: [`${SSO}${LEAD}`] });
  const twice = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(SRE, 'bob@example.com'), body: {} });
  expect(twice.status).toBe(409);
  expect(twice.body.message).toBe(`bob@example.com has already approved request ${id}, signed in through another role.`);
  expect(twice.body.details).toEqual([{ field: 'approverPersons', reason: 'already include the caller' }]);
  expect((await h.requests.get(id))!).toMatchObject({ status: 'PENDING', version: 2, approvals: [`${SSO}${LEAD}`] });

  const second = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(SRE, 'dave@example.com'), body: {} });
  expect(second.status).toBe(200);
  expect(second.body.request).toMatchObject({ status: 'APPROVED', approvals: [`${SSO}${LEAD}`, `${SSO}${SRE}`], approverPersons: ['bob@example.com', 'dave@example.com'] });
});

it('offers in view=awaiting neither a person\'s own request nor one they approved, through whichever role they sign in', async () => {
  const own = await requested(session(DEVELOPER, 'alice@example.com'), read);
  const two = await requested(session(DEVELOPER, 'carol@example.com'), admin);
  const awaiting = async (caller: string) => (await call(h.api, { method: 'GET', path: '/requests', caller, query: { view: 'awaiting' } })).body.items.map((r: { id: string }) => r.id);
  expect(await awaiting(session(LEAD, 'alice@example.com'))).toEqual([two]);

  expect((await call(h.api, { method: 'POST', path: `/requests/${two}/approve`, caller: session(LEAD, 'bob@example.com'), body: {} })).status).toBe(200);

  expect(await awaiting(session(SRE, 'bob@example.com'))).toEqual([]);
  expect(await awaiting(session(SRE, 'dave@example.com'))).toEqual([two]);
  expect(await awaiting(session(LEAD, 'erin@example.com'))).toEqual([own]);
});

it('ties an OIDC sign-in to the same person signed in through Identity Center', async () => {
  // Alice asks through OIDC (her email, mapped to her IAM user), then tries to approve through the Lead set.
  const oidcApi = httpApp(routes, () => h.deps, h.logger, { localIdentity: false, oidc: { issuer: 'https://login.example.com', audience: ['rolegate'], claim: 'email', principals: settings.oidc!.principals } });
  const e = apiEvent({ method: 'POST', path: '/requests', body: read });
  (e.requestContext as { authorizer?: unknown }).authorizer = { jwt: { claims: { iss: 'https://login.example.com', aud: 'rolegate', email: 'Alice@Example.com', email_verified: 'true' }, scopes: null } };
  const made = await oidcApi(e, lambdaContext());
  expect(made.statusCode).toBe(201);
  const request = JSON.parse(made.body).request;
  expect(request).toMatchObject({ requester: ARN.alice, requesterPerson: 'alice@example.com' });

  const own = await call(h.api, { method: 'POST', path: `/requests/${request.id}/approve`, caller: session(LEAD, 'alice@example.com'), body: {} });
  expect(own.status).toBe(403);
});

it('ties an OIDC sign-in by an opaque claim (sub) to the Identity Center user oidc.persons names, and only then', async () => {
  const SUB = '00u1a2b3c4D5e6F7g8h9';
  const oidcApi = (persons?: Record<string, string>) =>
    httpApp(routes, () => h.deps, h.logger, { localIdentity: false, oidc: { issuer: 'https://login.example.com', audience: ['rolegate'], claim: 'sub', principals: { [SUB]: ARN.alice }, ...(persons ? { persons } : {}) } });
  const ask = async (persons?: Record<string, string>) => {
    const e = apiEvent({ method: 'POST', path: '/requests', body: read });
    (e.requestContext as { authorizer?: unknown }).authorizer = { jwt: { claims: { iss: 'https://login.example.com', aud: 'rolegate', sub: SUB }, scopes: null } };
    return JSON.parse((await oidcApi(persons)(e, lambdaContext())).body).request;
  };

  // Without it, the person is the sub, which no Identity Center user name equals: her own approval through Lead counted.
  const unnamed = await ask();
  expect(unnamed.requesterPerson).toBe(SUB);
  expect((await call(h.api, { method: 'POST', path: `/requests/${unnamed.id}/approve`, caller: session(LEAD, 'alice@example.com'), body: {} })).status).toBe(200);

  const named = await ask({ [SUB]: 'Alice@example.com' });
  expect(named.requesterPerson).toBe('alice@example.com');
  const own = await call(h.api, { method: 'POST', path: `/requests/${named.id}/approve`, caller: session(LEAD, 'alice@example.com'), body: {} });
  expect(own.status).toBe(403);
  expect(own.body.message).toBe('Nobody may decide on their own request: alice@example.com asked for it, signed in through another role.');
});

it('names no person for an IAM user, whose requests and approvals work as before', async () => {
  const byUser = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: read });
  expect(byUser.body.request.requesterPerson).toBeUndefined();
  const approved = await call(h.api, { method: 'POST', path: `/requests/${byUser.body.request.id}/approve`, caller: ARN.leadAnna, body: {} });
  expect(approved.body.request).toMatchObject({ status: 'APPROVED' });
  expect(approved.body.request.approverPersons).toBeUndefined();
});

it('names the person in the audit trail of a cancel and of a revoke, and of the extensions a revoke ends or cancels', async () => {
  const cancelled = await requested(session(DEVELOPER, 'alice@example.com'), read);
  expect((await call(h.api, { method: 'POST', path: `/requests/${cancelled}/cancel`, caller: session(DEVELOPER, 'alice@example.com'), body: {} })).status).toBe(200);
  expect((await h.requests.getDetail(cancelled))!.events.map((e) => [e.action, e.actor, e.actorPerson])).toEqual([
    ['REQUESTED', `${SSO}${DEVELOPER}`, 'alice@example.com'],
    ['CANCELLED', `${SSO}${DEVELOPER}`, 'alice@example.com'],
  ]);

  const id = await requested(session(DEVELOPER, 'alice@example.com'), read);
  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(LEAD, 'bob@example.com'), body: {} })).status).toBe(200);
  const extend = (of: string) => call(h.api, { method: 'POST', path: `/requests/${of}/extend`, caller: session(DEVELOPER, 'alice@example.com'), body: { durationMinutes: 30, reason: 'not done yet' } });
  const live = await extend(id);
  expect((await call(h.api, { method: 'POST', path: `/requests/${live.body.request.id}/approve`, caller: session(LEAD, 'bob@example.com'), body: {} })).body.request.status).toBe('APPROVED');
  // Pending, of the live extension (a request is extended once: its extension in turn).
  const extension = await extend(live.body.request.id);
  expect(extension.status).toBe(201);
  const revoked = await call(h.api, { method: 'POST', path: `/requests/${id}/revoke`, caller: session(LEAD, 'bob@example.com'), body: { comment: 'incident over' } });
  expect(revoked.status).toBe(200);

  const personOf = async (requestId: string, action: string) => (await h.requests.getDetail(requestId))!.events.find((e) => e.action === action);
  expect(await personOf(id, 'REVOKED')).toMatchObject({ actor: `${SSO}${LEAD}`, actorPerson: 'bob@example.com', comment: 'incident over' });
  expect(await personOf(extension.body.request.id, 'CANCELLED')).toMatchObject({ actor: `${SSO}${LEAD}`, actorPerson: 'bob@example.com' });
  expect(await personOf(live.body.request.id, 'REVOKED')).toMatchObject({ actor: `${SSO}${LEAD}`, actorPerson: 'bob@example.com', comment: `Revoked with request ${id}, which it extends.` });
  // What rolegate does itself names no person.
  expect((await personOf(id, 'ACCESS_REMOVED'))!.actorPerson).toBeUndefined();
});

it('lets a person approve again through a role the rule still names once the rule stopped counting their first approval', async () => {
  const id = await requested(ARN.alice, admin);
  expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(LEAD, 'anna@example.com'), body: {} })).status).toBe(200);
  // The Lead set may no longer approve EC2 administration: Anna's approval through it stops counting.
  h.deps.settings = ssoSettings(false);

  const again = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(SRE, 'anna@example.com'), body: {} });

  expect(again.status).toBe(200);
  expect(again.body.request).toMatchObject({ status: 'PENDING', approvals: [`${SSO}${SRE}`], approverPersons: ['anna@example.com'] });
  // She still counts once: not a second time through the SRE set.
  const twice = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(SRE, 'Anna@example.com'), body: {} });
  expect(twice.status).toBe(409);
});

it('keeps two people who sign in through one permission set apart in Idempotency-Keys: the same key and body make a request for each', async () => {
  const post = (user: string) => call(h.api, { method: 'POST', path: '/requests', caller: session(DEVELOPER, user), body: read, headers: { 'Idempotency-Key': 'INC-7-read-logs' } });

  const alices = await post('alice@example.com');
  const bobs = await post('bob@example.com');
  const alicesAgain = await post('alice@example.com');

  expect([alices.status, bobs.status, alicesAgain.status]).toEqual([201, 201, 201]);
  expect(bobs.body.request).toMatchObject({ requester: `${SSO}${DEVELOPER}`, requesterPerson: 'bob@example.com' });
  expect(bobs.body.request.id).not.toBe(alices.body.request.id);
  expect(alicesAgain.body.request.id).toBe(alices.body.request.id);
});

it("lists a person's requests as theirs, and replays their Idempotency-Key, after rolePaths starts naming their role's path", async () => {
  // Before: the permission set's role is not in rolePaths, so its session counts as the role at path "/".
  const anyPath = (doc: Doc) => doc.rules.find((r: Doc) => r.id === 'production-read').requesters.push(`arn:aws:iam::111111111111:role/*${DEVELOPER}`);
  const before = settingsWith(anyPath);
  const after = settingsWith((doc: Doc) => {
    anyPath(doc);
    doc.rolePaths = [{ roleName: 'AWSReservedSSO_*', path: '/aws-reserved/sso.amazonaws.com/eu-west-1/' }];
  });
  h.deps.settings = before;
  const earlier = httpApp(routes, () => h.deps, h.logger, identityOptionsFor(before, false));
  const alice = session(DEVELOPER, 'alice@example.com');
  const post = (api: typeof h.api) => call(api, { method: 'POST', path: '/requests', caller: alice, body: read, headers: { 'Idempotency-Key': 'INC-8-read-logs' } });
  const made = await post(earlier);
  expect(made.status).toBe(201);
  expect(made.body.request.requester).toBe(`arn:aws:iam::111111111111:role/${DEVELOPER}`);

  h.deps.settings = after;
  const later = httpApp(routes, () => h.deps, h.logger, identityOptionsFor(after, false));
  const mine = await call(later, { method: 'GET', path: '/requests', caller: alice });
  expect(mine.status).toBe(200);
  expect(mine.body.items.map((r: { id: string }) => r.id)).toEqual([made.body.request.id]);
  const again = await post(later);
  expect(again.status).toBe(201);
  expect(again.body.request.id).toBe(made.body.request.id);
});
