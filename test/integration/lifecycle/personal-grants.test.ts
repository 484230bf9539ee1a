import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { AccessRequest } from '../../../src/domain/model';
import type { Settings } from '../../../src/domain/settings';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { reconcile } from '../../../src/domain/use-cases/reconcile';
import { httpApp } from '../../../src/handlers/http/app';
import { routes } from '../../../src/handlers/http/routes';
import { apiEvent, call, lambdaContext } from '../../helpers/events';
import { routeAwsMocks } from '../../helpers/fault-iam';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';

/*
 * provisioner.personalGrants: an Identity Center sign-in asking for its own
 * role gets a role of its own, whose trust admits only the permission set's
 * sessions with that user name (aws:userid `<role id>:<session name>`), not
 * everyone assigned the permission set. Through the real IamProvisioner
 * against the in-memory IAM, on DynamoDB Local.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
beforeEach(() => routeAwsMocks(iamMock, stsMock));

const IDENTITY = '111111111111';
const PRODUCTION = '333333333333';
const SSO_PATH = '/aws-reserved/sso.amazonaws.com/eu-west-1/';
const DEVELOPER = 'AWSReservedSSO_Developer_0a1b2c3d4e5f6a7b';
const LEAD = 'AWSReservedSSO_Lead_9f8e7d6c5b4a3f2e';
const APP = 'app-billing';
const session = (role: string, person: string) => `arn:aws:sts::${IDENTITY}:assumed-role/${role}/${person}`;
const ssoRole = (role: string) => `arn:aws:iam::${IDENTITY}:role${SSO_PATH}${role}`;
const alice = session(DEVELOPER, 'Alice@Example.com');
const bob = session(DEVELOPER, 'bob@example.com');
const anna = session(LEAD, 'anna@example.com');
const body = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Investigate the billing incident' };

function settings(personalGrants: boolean, driftAction: 'report' | 'repair' = 'report', more: { autoApprove?: boolean } = {}): Settings {
  return settingsWith((doc) => {
    const provisioner = doc.provisioner as Record<string, unknown>;
    provisioner.mode = 'aws';
    provisioner.personalGrants = personalGrants;
    provisioner.driftAction = driftAction;
    provisioner.identityRoleArn = `arn:aws:iam::${IDENTITY}:role/rolegate-identity-granter`;
    provisioner.identityExternalId = 'rolegate-identity-5b1e';
    doc.rolePaths = [{ roleName: 'AWSReservedSSO_*', path: SSO_PATH }];
    (doc.rules as unknown[]).unshift({
      id: 'sso-production-read',
      requesters: [`arn:aws:iam::${IDENTITY}:role${SSO_PATH}AWSReservedSSO_Developer_*`],
      accounts: ['production'],
      profiles: ['ReadOnly'],
      maxDurationMinutes: 240,
      approvers: [`arn:aws:iam::${IDENTITY}:role${SSO_PATH}AWSReservedSSO_Lead_*`],
      workloadPrincipals: [`arn:aws:iam::${IDENTITY}:role/app-*`],
      ...(more.autoApprove ? { autoApprove: true } : {}),
    });
  });
}

let w: FaultWorld;
afterEach(async () => {
  await w?.close();
});

async function world(personalGrants: boolean): Promise<FaultWorld> {
  w = await faultWorld(settings(personalGrants));
  w.aws.seedRole(IDENTITY, DEVELOPER, SSO_PATH);
  w.aws.seedRole(IDENTITY, LEAD, SSO_PATH);
  w.aws.seedRole(IDENTITY, APP, '/');
  w.aws.requireExistingPrincipals();
  return w;
}

async function approved(caller: string, extra: Record<string, unknown> = {}): Promise<AccessRequest> {
  const created = await call(w.h.api, { method: 'POST', path: '/requests', caller, body: { ...body, ...extra } });
  expect(created.status).toBe(201);
  const id = created.body.request.id as string;
  const decided = await call(w.h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: anna, body: {} });
  expect(decided.status).toBe(200);
  return (await w.h.requests.get(id))!;
}

async function provisioned(r: AccessRequest): Promise<AccessRequest> {
  expect((await provisionRequest(w.h.deps, r.id)).outcome).toBe('active');
  return (await w.h.requests.get(r.id))!;
}

/** An auto-approved request of Alice's that failed its provisioning (under a freeze, then lifted), with personal grants as given. */
async function failedAutoApproved(personalGrants: boolean): Promise<string> {
  w.h.deps.settings = settings(personalGrants, 'report', { autoApprove: true });
  const created = await call(w.h.api, { method: 'POST', path: '/requests', caller: alice, body });
  const id = created.body.request.id as string;
  await failedUnderFreeze(id, settings(personalGrants, 'report', { autoApprove: true }));
  return id;
}

/** Provisioning while production is frozen ends the request FAILED; then `after` applies (freeze lifted), ready for a retry. */
async function failedUnderFreeze(id: string, after: Settings): Promise<void> {
  w.h.deps.settings = { ...after, freeze: { principals: [], accounts: ['production'] } };
  expect((await provisionRequest(w.h.deps, id)).outcome).toBe('failed');
  w.h.deps.settings = after;
}

const roleNameOf = (r: AccessRequest) => r.grantKey!.split('#')[1]!;
const trustOf = (r: AccessRequest) => JSON.parse(w.aws.role(PRODUCTION, roleNameOf(r))!.trust) as { Statement: unknown[] };
const grantStatement = (principal: string, endsAt: string, pin?: string) => ({
  Sid: 'RolegateGrant',
  Effect: 'Allow',
  Principal: { AWS: principal },
  Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
  Condition: { DateLessThan: { 'aws:CurrentTime': endsAt }, ...(pin ? { StringLike: { 'aws:userid': pin } } : {}), StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' } },
});

describe('personal grants (provisioner.personalGrants)', () => {
  it('gives each Identity Center user a role of their own, whose trust admits only their sessions of the permission set', async () => {
    await world(true);
    const a = await provisioned(await approved(alice));
    const b = await provisioned(await approved(bob));

    // The session name as the ARN shows it, case kept: IAM compares aws:userid case-sensitively.
    expect(a.principalSession).toBe('Alice@Example.com');
    expect(b.principalSession).toBe('bob@example.com');
    expect(a.principalArn).toBe(ssoRole(DEVELOPER));
    expect(roleNameOf(a)).toMatch(/^rg-ReadOnly-alice@example\.com-[0-9a-f]{8}$/);
    expect(roleNameOf(b)).toMatch(/^rg-ReadOnly-bob@example\.com-[0-9a-f]{8}$/);
    expect(trustOf(a).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), a.endsAt!, '*:Alice@Example.com')]);
    expect(trustOf(b).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), b.endsAt!, '*:bob@example.com')]);
    // Exactly that document went to IAM, and the role says whom it is for.
    const created = iamMock.commandCalls(CreateRoleCommand, { RoleName: roleNameOf(a) });
    expect(created).toHaveLength(1);
    expect(JSON.parse(created[0]!.args[0].input.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [grantStatement(ssoRole(DEVELOPER), a.endsAt!, '*:Alice@Example.com')],
    });
    expect(created[0]!.args[0].input.Description).toBe(`rolegate grant: ReadOnly for ${ssoRole(DEVELOPER)} as Alice@Example.com`);
    expect(a.access?.roleArn).toBe(`arn:aws:iam::${PRODUCTION}:role/rolegate/${roleNameOf(a)}`);
    // The API shows the pin to the requester.
    const shown = await call(w.h.api, { method: 'GET', path: `/requests/${a.id}`, caller: alice });
    expect(shown.body.request.principalSession).toBe('Alice@Example.com');

    // Ending Alice's access deletes her role only.
    const revoked = await call(w.h.api, { method: 'POST', path: `/requests/${a.id}/revoke`, caller: anna, body: { comment: 'done' } });
    expect(revoked.status).toBe(200);
    expect(w.aws.role(PRODUCTION, roleNameOf(a))).toBeUndefined();
    expect(trustOf(b).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), b.endsAt!, '*:bob@example.com')]);
  });

  it("keeps an extension on the original's role and pin, and leaves extending to the person alone", async () => {
    await world(true);
    const a = await provisioned(await approved(alice));
    // Bob signs in through the same permission set: he may see and end Alice's access, not prolong it.
    const byBob = await call(w.h.api, { method: 'POST', path: `/requests/${a.id}/extend`, caller: bob, body: { durationMinutes: 60, reason: 'Still on it' } });
    expect(byBob.status).toBe(403);
    expect(byBob.body.message).toBe(`Request ${a.id} is a personal grant of Alice@Example.com: only they may extend it, signed in as themselves through Identity Center.`);
    expect((await call(w.h.api, { method: 'GET', path: `/requests/${a.id}`, caller: bob })).status).toBe(200);
    // IAM compares aws:userid case-sensitively: a name in another case is another session, refused alike.
    const otherCase = await call(w.h.api, { method: 'POST', path: `/requests/${a.id}/extend`, caller: session(DEVELOPER, 'alice@example.com'), body: { durationMinutes: 60, reason: 'x' } });
    expect(otherCase.status).toBe(403);
    expect(otherCase.body.details).toEqual([{ field: 'caller', reason: "is not Alice@Example.com's session" }]);

    const extended = await call(w.h.api, { method: 'POST', path: `/requests/${a.id}/extend`, caller: alice, body: { durationMinutes: 60, reason: 'Still on it' } });
    expect(extended.status).toBe(201);
    const ext = extended.body.request as AccessRequest;
    expect(ext.principalSession).toBe('Alice@Example.com');
    await call(w.h.api, { method: 'POST', path: `/requests/${ext.id}/approve`, caller: anna, body: {} });
    const live = await provisioned((await w.h.requests.get(ext.id))!);

    expect(live.grantKey).toBe(a.grantKey);
    expect(trustOf(live).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), live.endsAt!, '*:Alice@Example.com')]);
    expect(Object.keys(w.aws.dump().roles).filter((k) => k.startsWith(`${PRODUCTION}/`))).toHaveLength(1);
    expect((await allItems(w.h)).filter((i) => i.type === 'request')).toHaveLength(2);
  });

  it('leaves retrying a failed personal grant to the person (or an approver)', async () => {
    await world(true);
    const id = await failedAutoApproved(true);

    const byBob = await call(w.h.api, { method: 'POST', path: `/requests/${id}/retry`, caller: bob, body: {} });
    expect(byBob.status).toBe(403);
    expect(byBob.body.message).toBe(`Request ${id} is a personal grant of Alice@Example.com: only they may retry it, signed in as themselves through Identity Center.`);
    expect((await w.h.requests.get(id))!.status).toBe('FAILED');
    const byAlice = await call(w.h.api, { method: 'POST', path: `/requests/${id}/retry`, caller: alice, body: {} });
    expect(byAlice.status).toBe(200);
    expect(byAlice.body.request.status).toBe('APPROVED');
  });

  it('lets an approver retry a failed personal grant, which stays pinned', async () => {
    await world(true);
    const a = await approved(alice);
    await failedUnderFreeze(a.id, settings(true));
    const byAnna = await call(w.h.api, { method: 'POST', path: `/requests/${a.id}/retry`, caller: anna, body: {} });
    expect(byAnna.status).toBe(200);
    const live = await provisioned((await w.h.requests.get(a.id))!);
    expect(trustOf(live).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), live.endsAt!, '*:Alice@Example.com')]);
  });

  it('refuses to retry, once switched on, a failed request made before for the whole permission set (a retry grants afresh)', async () => {
    await world(false);
    const id = await failedAutoApproved(false);
    w.h.deps.settings = settings(true, 'report', { autoApprove: true });
    const before = await w.h.requests.get(id);

    const retried = await call(w.h.api, { method: 'POST', path: `/requests/${id}/retry`, caller: alice, body: {} });
    expect(retried.status).toBe(409);
    expect(retried.body.message).toBe(
      `Request ${id} was made before personal grants were switched on, for everyone of Identity Center role ${ssoRole(DEVELOPER)}; a retry would grant that afresh. Make a new request: it will be yours alone.`,
    );
    expect(retried.body.details).toEqual([{ field: 'principalSession', reason: 'is absent: made before personal grants' }]);
    expect(await w.h.requests.get(id)).toEqual(before);
    // Switched off again, the same retry goes through, as before personal grants.
    w.h.deps.settings = settings(false, 'report', { autoApprove: true });
    expect((await call(w.h.api, { method: 'POST', path: `/requests/${id}/retry`, caller: alice, body: {} })).status).toBe(200);
  });

  it('keeps an extension of a request made before switch-on on the whole-role role it prolongs', async () => {
    await world(false);
    const before = await provisioned(await approved(alice));
    w.h.deps.settings = settings(true);
    const ext = await call(w.h.api, { method: 'POST', path: `/requests/${before.id}/extend`, caller: alice, body: { durationMinutes: 60, reason: 'Still on it' } });
    expect(ext.status).toBe(201);
    expect(ext.body.request.principalSession).toBeUndefined();
    await call(w.h.api, { method: 'POST', path: `/requests/${ext.body.request.id}/approve`, caller: anna, body: {} });
    // Failed and retried, it still prolongs that role: a retry refuses only a request that would grant it afresh.
    await failedUnderFreeze(ext.body.request.id as string, settings(true));
    expect((await call(w.h.api, { method: 'POST', path: `/requests/${ext.body.request.id}/retry`, caller: anna, body: {} })).status).toBe(200);
    const live = await provisioned((await w.h.requests.get(ext.body.request.id as string))!);
    expect(live.grantKey).toBe(before.grantKey);
    expect(trustOf(live).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), live.endsAt!)]);
    expect(await reconcile(w.h.deps)).toEqual([]);
  });

  it('keeps a personal grant and its extensions pinned, and the person\'s, after switching it off', async () => {
    await world(true);
    const a = await provisioned(await approved(alice));
    w.h.deps.settings = settings(false);
    expect(await reconcile(w.h.deps)).toEqual([]);
    const byBob = await call(w.h.api, { method: 'POST', path: `/requests/${a.id}/extend`, caller: bob, body: { durationMinutes: 60, reason: 'x' } });
    expect(byBob.status).toBe(403);
    const ext = await call(w.h.api, { method: 'POST', path: `/requests/${a.id}/extend`, caller: alice, body: { durationMinutes: 60, reason: 'Still on it' } });
    expect(ext.body.request.principalSession).toBe('Alice@Example.com');
    await call(w.h.api, { method: 'POST', path: `/requests/${ext.body.request.id}/approve`, caller: anna, body: {} });
    const live = await provisioned((await w.h.requests.get(ext.body.request.id as string))!);
    expect(live.grantKey).toBe(a.grantKey);
    expect(trustOf(live).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), live.endsAt!, '*:Alice@Example.com')]);
    expect(await reconcile(w.h.deps)).toEqual([]);
  });

  it('refuses an OIDC sign-in mapped to an Identity Center role: its token names no session', async () => {
    await world(true);
    const oidc = { issuer: 'https://login.example.com', audience: ['rolegate'], claim: 'email' as const, principals: { 'alice@example.com': ssoRole(DEVELOPER) } };
    const oidcApi = httpApp(routes, () => w.h.deps, w.h.logger, { localIdentity: false, oidc });
    const e = apiEvent({ method: 'POST', path: '/requests', body });
    (e.requestContext as { authorizer?: unknown }).authorizer = { jwt: { claims: { iss: oidc.issuer, aud: 'rolegate', email: 'alice@example.com', email_verified: 'true' }, scopes: null } };
    const reply = await oidcApi(e, lambdaContext());
    expect(reply.statusCode).toBe(403);
    expect(JSON.parse(reply.body)).toMatchObject({ error: 'FORBIDDEN', details: [{ field: 'caller', reason: 'names no Identity Center session' }] });
    expect(await allItems(w.h)).toEqual([]);
  });

  it('refuses, and records nothing for, a request for an Identity Center role whose sign-in names no session (Slack, OIDC)', async () => {
    await world(true);
    for (const via of ['slack', 'api'] as const) {
      await expect(createRequest(w.h.deps, { arn: ssoRole(DEVELOPER), via }, body)).rejects.toThrow(
        `Personal grants are on: access for Identity Center role ${ssoRole(DEVELOPER)} is granted to one user's sessions of it, and this sign-in names no session name rolegate can pin.`,
      );
    }
    expect(await allItems(w.h)).toEqual([]);
    // Switched off, the same request is granted to the whole permission set, as before.
    w.h.deps.settings = settings(false);
    expect((await createRequest(w.h.deps, { arn: ssoRole(DEVELOPER), via: 'slack' }, body)).principalSession).toBeUndefined();
  });

  it('pins no grant to a session name of 64 characters, the most STS keeps (maybe a longer user name cut short); 63 are pinned', async () => {
    await world(true);
    const long = `${'a'.repeat(52)}@example.com`;
    expect(long).toHaveLength(64);
    const refused = await call(w.h.api, { method: 'POST', path: '/requests', caller: session(DEVELOPER, long), body });
    expect(refused.status).toBe(403);
    expect(refused.body.details).toEqual([{ field: 'caller', reason: 'session name is 64 characters (possibly cut short)' }]);
    expect(await allItems(w.h)).toEqual([]);
    const fits = await call(w.h.api, { method: 'POST', path: '/requests', caller: session(DEVELOPER, long.slice(1)), body });
    expect([fits.status, fits.body.request.principalSession]).toEqual([201, long.slice(1)]);
  });

  it('grants a workload principal or an IAM user whole, as before', async () => {
    await world(true);
    const workload = await provisioned(await approved(alice, { principalArn: `arn:aws:iam::${IDENTITY}:role/${APP}` }));
    expect(workload.principalSession).toBeUndefined();
    expect(trustOf(workload).Statement).toEqual([grantStatement(`arn:aws:iam::${IDENTITY}:role/${APP}`, workload.endsAt!)]);

    // An IAM user of the example rules (lead approval for production).
    const user = await call(w.h.api, { method: 'POST', path: '/requests', caller: `arn:aws:iam::${IDENTITY}:user/alice`, body: { ...body, account: 'staging' } });
    expect(user.status).toBe(201);
    expect(user.body.request.principalSession).toBeUndefined();
  });

  it('pins nothing while switched off, and switching it on leaves every request made before as it was (no drift)', async () => {
    await world(false);
    const before = await provisioned(await approved(alice));
    expect(before.principalSession).toBeUndefined();
    expect(trustOf(before).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), before.endsAt!)]);
    const waiting = await call(w.h.api, { method: 'POST', path: '/requests', caller: bob, body });

    w.h.deps.settings = settings(true);
    expect(await reconcile(w.h.deps)).toEqual([]);
    // A request made before, approved after: still the whole permission set's role, as it was asked.
    await call(w.h.api, { method: 'POST', path: `/requests/${waiting.body.request.id}/approve`, caller: anna, body: {} });
    const later = await provisioned((await w.h.requests.get(waiting.body.request.id as string))!);
    expect(later.principalSession).toBeUndefined();
    expect(later.grantKey).toBe(before.grantKey);
    expect(trustOf(later).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), later.endsAt!)]);
    // A new one is personal, beside it.
    const personal = await provisioned(await approved(alice));
    expect(personal.grantKey).not.toBe(before.grantKey);
    expect(trustOf(personal).Statement).toEqual([grantStatement(ssoRole(DEVELOPER), personal.endsAt!, '*:Alice@Example.com')]);
    expect(await reconcile(w.h.deps)).toEqual([]);
  });

  it('reports a pin removed by hand as drift, and repairs it to the pinned trust', async () => {
    await world(true);
    const a = await provisioned(await approved(alice));
    const pinned = trustOf(a);
    w.aws.tamper(PRODUCTION, roleNameOf(a), (role) => (role.trust = JSON.stringify({ Version: '2012-10-17', Statement: [grantStatement(ssoRole(DEVELOPER), a.endsAt!)] })));

    expect(await reconcile(w.h.deps)).toEqual([
      { accountId: PRODUCTION, roleName: roleNameOf(a), kind: 'trust-changed', detail: 'the trust policy differs from the desired one', repaired: false },
    ]);
    w.h.deps.settings = settings(true, 'repair');
    expect(await reconcile(w.h.deps)).toEqual([
      { accountId: PRODUCTION, roleName: roleNameOf(a), kind: 'trust-changed', detail: 'the trust policy differs from the desired one', repaired: true },
    ]);
    expect(trustOf(a)).toEqual(pinned);
  });
});
