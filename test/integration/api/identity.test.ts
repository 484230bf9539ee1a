import { ARN } from '../../helpers/settings';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { readEnv } from '../../../src/config';
import { httpApp } from '../../../src/handlers/http/app';
import { routes } from '../../../src/handlers/http/routes';
import { apiEvent, lambdaContext } from '../../helpers/events';

const body = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Investigate' };

describe('identity comes only from the authenticated request context', () => {
  let deployed: Harness;
  let local: Harness;
  beforeAll(async () => {
    deployed = await harness({ localIdentity: false });
    local = await harness({ localIdentity: true });
  });
  afterAll(async () => {
    await deployed.close();
    await local.close();
  });

  it('ignores the local identity header in a deployed function', async () => {
    const res = await call(deployed.api, { method: 'POST', path: '/requests', headers: { 'x-rolegate-principal': ARN.alice }, body });
    expect(res.status).toBe(401);
  });

  it('takes the IAM authorizer caller over any header, even locally', async () => {
    const res = await call(local.api, { method: 'POST', path: '/requests', caller: ARN.bob, headers: { 'x-rolegate-principal': ARN.leadAnna }, body });
    expect(res.status).toBe(201);
    expect(res.body.request.requester).toBe(ARN.bob);
  });

  it('honours the header in the local run', async () => {
    const res = await call(local.api, { method: 'POST', path: '/requests', headers: { 'x-rolegate-principal': ARN.alice }, body });
    expect(res.status).toBe(201);
    expect(res.body.request.requester).toBe(ARN.alice);
  });

  it('never turns on local identity inside Lambda, whatever the environment says', () => {
    expect(readEnv({ ROLEGATE_LOCAL: 'true', AWS_LAMBDA_FUNCTION_NAME: 'rolegate-prod-api' }).localIdentity).toBe(false);
    expect(readEnv({ ROLEGATE_LOCAL: 'true' }).localIdentity).toBe(true);
    expect(readEnv({}).localIdentity).toBe(false);
  });

  it('records an assumed-role caller as its role, without the session name', async () => {
    const res = await call(deployed.api, { method: 'POST', path: '/requests', caller: 'arn:aws:sts::111111111111:assumed-role/lead-anna/laptop', body });
    // lead-anna is a role here, which no rule names as a requester.
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('arn:aws:iam::111111111111:role/lead-anna');
  });

  describe('OIDC sign-in (JWT authorizer)', () => {
    const jwtEvent = (claims: Record<string, string>, extra: Record<string, string> = {}) => {
      const e = apiEvent({ method: 'POST', path: '/requests', body, headers: extra });
      (e.requestContext as { authorizer?: unknown }).authorizer = { jwt: { claims, scopes: null } };
      return e;
    };
    const oidcApi = () => httpApp(routes, () => deployed.deps, deployed.logger, { localIdentity: false, oidc: { claim: 'email', principals: { 'alice@example.com': ARN.alice } } });

    it('maps the verified claim to the configured principal, an email address whatever its case', async () => {
      for (const email of ['alice@example.com', 'Alice@Example.COM']) {
        const res = await oidcApi()(jwtEvent({ email, email_verified: 'true', sub: 'x' }), lambdaContext());
        expect(res.statusCode).toBe(201);
        expect(JSON.parse(res.body).request.requester).toBe(ARN.alice);
      }
    });

    it('refuses an email address the identity provider has not verified, or does not say it verified', async () => {
      const unverified: Record<string, string>[] = [{ email: 'alice@example.com', email_verified: 'false' }, { email: 'alice@example.com' }];
      for (const claims of unverified) {
        const res = await oidcApi()(jwtEvent(claims), lambdaContext());
        expect(res.statusCode).toBe(403);
        expect(JSON.parse(res.body)).toEqual({
          error: 'FORBIDDEN',
          message: 'Your sign-in carries an email address its identity provider has not verified (email_verified); rolegate accepts only verified addresses.',
        });
      }
    });

    it('matches any other claim exactly: a username differing only in case is someone else', async () => {
      const byUsername = httpApp(routes, () => deployed.deps, deployed.logger, { localIdentity: false, oidc: { claim: 'preferred_username', principals: { alice: ARN.alice } } });
      expect((await byUsername(jwtEvent({ preferred_username: 'alice' }), lambdaContext())).statusCode).toBe(201);
      const other = await byUsername(jwtEvent({ preferred_username: 'ALICE' }), lambdaContext());
      expect(other.statusCode).toBe(403);
      expect(JSON.parse(other.body).message).toContain('not mapped');
    });

    it('refuses an unmapped sign-in with 403, and ignores the local header', async () => {
      const res = await oidcApi()(jwtEvent({ email: 'mallory@example.com', email_verified: 'true' }, { 'x-rolegate-principal': ARN.alice }), lambdaContext());
      expect(res.statusCode).toBe(403);
      expect(JSON.parse(res.body).message).toContain('not mapped');
    });
  });
});
