import { ARN } from '../../helpers/settings';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { readEnv } from '../../../src/environment';
import { httpApp } from '../../../src/handlers/http/app';
import { identityOptionsFor } from '../../../src/handlers/http/middlewares';
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

  it('says what is wrong with a local header that names no IAM user or role, and a deployed caller that is none is told why', async () => {
    for (const value of ['bob', `arn:aws:iam::111111111111:user/${'x'.repeat(200)}`, 'arn:aws:iam::111111111111:root']) {
      const res = await call(local.api, { method: 'POST', path: '/requests', headers: { 'x-rolegate-principal': value }, body });
      expect(res.status).toBe(403);
      expect(res.body.message).toMatch(/^The x-rolegate-principal header must name an IAM user or role, or an assumed-role session: \S/);
    }
    const root = await call(deployed.api, { method: 'POST', path: '/requests', caller: 'arn:aws:iam::111111111111:root', body });
    expect(root.body).toEqual({ error: 'FORBIDDEN', message: 'Only IAM users and roles may use rolegate (not an account root or a federated user).' });
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
    const ISSUER = 'https://login.example.com/oauth2/default';
    /** A token API Gateway verified: from the configured issuer, for rolegate's audience, unless the claims say otherwise. */
    const jwtEvent = (claims: Record<string, string>, extra: Record<string, string> = {}) => {
      const e = apiEvent({ method: 'POST', path: '/requests', body, headers: extra });
      (e.requestContext as { authorizer?: unknown }).authorizer = { jwt: { claims: { iss: ISSUER, aud: 'rolegate', ...claims }, scopes: null } };
      return e;
    };
    const oidcOptions = (claim: string, principals: Record<string, string>) => ({ localIdentity: false, oidc: { issuer: ISSUER, audience: ['rolegate', 'rolegate-cli'], claim, principals } });
    const oidcApi = () => httpApp(routes, () => deployed.deps, deployed.logger, oidcOptions('email', { 'alice@example.com': ARN.alice }));

    it("checks the token's issuer and audience against the configuration, not only the stack's authorizer", async () => {
      const verified = { email: 'alice@example.com', email_verified: 'true' };
      const refused = [
        [{ iss: 'https://other-idp.example.com' }, "Your sign-in token comes from another issuer than the one rolegate's configuration names (oidc.issuer)."],
        [{ iss: '' }, "Your sign-in token comes from another issuer than the one rolegate's configuration names (oidc.issuer)."],
        [{ aud: 'another-app' }, "Your sign-in token is not meant for rolegate: its audience is none of those rolegate's configuration names (oidc.audience)."],
        [{ aud: '[another-app third-app]' }, "Your sign-in token is not meant for rolegate: its audience is none of those rolegate's configuration names (oidc.audience)."],
        [{ aud: 'rolegate-other' }, "Your sign-in token is not meant for rolegate: its audience is none of those rolegate's configuration names (oidc.audience)."],
        // client_id counts only without aud, as at API Gateway: another app's token naming rolegate's client is not rolegate's.
        [{ aud: 'another-app', client_id: 'rolegate' }, "Your sign-in token is not meant for rolegate: its audience is none of those rolegate's configuration names (oidc.audience)."],
      ] as const;
      for (const [claims, message] of refused) {
        const res = await oidcApi()(jwtEvent({ ...verified, ...claims }), lambdaContext());
        expect({ claims, status: res.statusCode, body: JSON.parse(res.body) }).toEqual({ claims, status: 403, body: { error: 'FORBIDDEN', message } });
      }
      const accepted: Record<string, string>[] = [
        { iss: `${ISSUER}/` }, // the same issuer, written with its trailing slash
        { aud: '[another-app rolegate-cli]' }, // one of several audiences (API Gateway flattens arrays)
        { aud: '', client_id: 'rolegate' }, // a Cognito access token names its client in client_id
      ];
      for (const claims of accepted) {
        const res = await oidcApi()(jwtEvent({ ...verified, ...claims }), lambdaContext());
        expect({ claims, status: res.statusCode }).toEqual({ claims, status: 201 });
      }
    });

    it('takes the issuer and audience from the oidc section of the configuration', () => {
      const settings = { ...deployed.deps.settings, oidc: { issuer: ISSUER, audience: ['rolegate'], claim: 'sub', principals: { u1: ARN.alice }, persons: { u1: 'alice' } } };
      expect(identityOptionsFor(settings, false).oidc).toEqual({ issuer: ISSUER, audience: ['rolegate'], claim: 'sub', principals: { u1: ARN.alice }, persons: { u1: 'alice' } });
    });

    it('maps the verified claim to the configured principal, an email address whatever its case', async () => {
      for (const email of ['alice@example.com', 'Alice@Example.COM']) {
        const res = await oidcApi()(jwtEvent({ email, email_verified: 'true', sub: 'x' }), lambdaContext());
        expect(res.statusCode).toBe(201);
        expect(JSON.parse(res.body).request.requester).toBe(ARN.alice);
      }
    });

    it('folds only ASCII letters of an email: a look-alike (the Kelvin sign, which toLowerCase folds to k) is another address', async () => {
      const kate = httpApp(routes, () => deployed.deps, deployed.logger, oidcOptions('email', { 'kate@example.com': ARN.alice }));
      expect((await kate(jwtEvent({ email: 'KATE@example.com', email_verified: 'true' }), lambdaContext())).statusCode).toBe(201);
      const lookAlike = await kate(jwtEvent({ email: '\u212Aate@example.com', email_verified: 'true' }), lambdaContext());
      expect(lookAlike.statusCode).toBe(403);
      expect(JSON.parse(lookAlike.body).message).toContain('not mapped');
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
      const byUsername = httpApp(routes, () => deployed.deps, deployed.logger, oidcOptions('preferred_username', { alice: ARN.alice }));
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
