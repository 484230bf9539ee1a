import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { Settings } from '../../../src/domain/settings';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { routeAwsMocks } from '../../helpers/fault-iam';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { settingsWith } from '../../helpers/settings';

/*
 * People who sign in through IAM Identity Center (SSO) reach rolegate as an
 * assumed-role session of a role under /aws-reserved/sso.amazonaws.com/…/.
 * The session ARN does not show that path, and IAM refuses a trust policy
 * naming the role without it. With `rolePaths`, the whole flow works: the
 * request, the approval (by another SSO role) and a trust naming the role by
 * its real ARN. The in-memory IAM refuses unknown principals and changes to
 * AWS-protected roles, as IAM does.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
beforeAll(() => routeAwsMocks(iamMock, stsMock));

const IDENTITY = '111111111111';
const SSO_PATH = '/aws-reserved/sso.amazonaws.com/eu-west-1/';
const DEVELOPER = 'AWSReservedSSO_Developer_0a1b2c3d4e5f6a7b';
const LEAD = 'AWSReservedSSO_Lead_9f8e7d6c5b4a3f2e';
const session = (role: string, person: string) => `arn:aws:sts::${IDENTITY}:assumed-role/${role}/${person}`;
const roleArn = (role: string) => `arn:aws:iam::${IDENTITY}:role${SSO_PATH}${role}`;
const body = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Investigate the billing incident' };

function ssoSettings(withRolePaths: boolean): Settings {
  return settingsWith((doc) => {
    (doc.provisioner as Record<string, unknown>).mode = 'aws';
    (doc.provisioner as Record<string, unknown>).identityRoleArn = `arn:aws:iam::${IDENTITY}:role/rolegate-identity-granter`;
    (doc.provisioner as Record<string, unknown>).identityExternalId = 'rolegate-identity-5b1e';
    if (withRolePaths) doc.rolePaths = [{ roleName: 'AWSReservedSSO_*', path: SSO_PATH }];
    (doc.rules as unknown[]).unshift({
      id: 'sso-production-read',
      // `*` crosses `/`, so this pattern matches the role with or without its path.
      requesters: [`arn:aws:iam::${IDENTITY}:role/*AWSReservedSSO_Developer_*`],
      accounts: ['production'],
      profiles: ['ReadOnly'],
      maxDurationMinutes: 240,
      approvers: [`arn:aws:iam::${IDENTITY}:role/*AWSReservedSSO_Lead_*`],
    });
  });
}

async function ssoWorld(withRolePaths: boolean): Promise<FaultWorld> {
  const w = await faultWorld(ssoSettings(withRolePaths));
  w.aws.seedRole(IDENTITY, DEVELOPER, SSO_PATH);
  w.aws.seedRole(IDENTITY, LEAD, SSO_PATH);
  w.aws.requireExistingPrincipals();
  return w;
}

async function requestAndApprove(w: FaultWorld): Promise<string> {
  const created = await call(w.h.api, { method: 'POST', path: '/requests', caller: session(DEVELOPER, 'alice@example.com'), body });
  expect(created.status).toBe(201);
  const id = created.body.request.id as string;
  const approved = await call(w.h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(LEAD, 'anna@example.com'), body: {} });
  expect(approved.status).toBe(200);
  expect(approved.body.request.status).toBe('APPROVED');
  return id;
}

describe('IAM Identity Center (SSO) roles', () => {
  it('with rolePaths, trusts the SSO role by its real ARN and leaves the AWS-protected role alone', async () => {
    const w = await ssoWorld(true);
    try {
      const id = await requestAndApprove(w);
      const request = await w.h.requests.get(id);
      expect(request?.requester).toBe(roleArn(DEVELOPER));
      expect(request?.principalArn).toBe(roleArn(DEVELOPER));
      const detail = await w.h.requests.getDetail(id);
      expect(detail?.decisions.map((d) => d.approver)).toEqual([roleArn(LEAD)]);

      const result = await provisionRequest(w.h.deps, id);

      expect(result.outcome).toBe('active');
      const role = w.aws.role('333333333333', result.request!.access!.roleArn.split('/').at(-1)!);
      expect(JSON.parse(role!.trust).Statement).toEqual([
        {
          Sid: 'RolegateGrant',
          Effect: 'Allow',
          Principal: { AWS: roleArn(DEVELOPER) },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
          Condition: { DateLessThan: { 'aws:CurrentTime': result.request!.endsAt }, StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' } },
        },
      ]);
      // The SSO role's permissions come from its permission set: rolegate puts no identity policy on it.
      expect(w.aws.role(IDENTITY, DEVELOPER)!.inline).toEqual({});
      expect(iamMock.commandCalls(PutRolePolicyCommand, { RoleName: DEVELOPER })).toHaveLength(0);
    } finally {
      await w.close();
    }
  });

  it('a look-alike role in another case (awsreservedsso_…, which an SCP on AWSReservedSSO* lets anyone create) gets neither the path nor an approver\'s rights', async () => {
    const w = await ssoWorld(true);
    try {
      const created = await call(w.h.api, { method: 'POST', path: '/requests', caller: session(DEVELOPER, 'alice@example.com'), body });
      const id = created.body.request.id as string;
      const before = await w.h.requests.getDetail(id);
      const lookAlike = 'awsreservedsso_Lead_x';

      const refused = await call(w.h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: session(lookAlike, 'mallory'), body: {} });

      // Not an approver, it does not even see the request: the answer names nothing of it.
      expect(refused).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: `arn:aws:iam::${IDENTITY}:role/${lookAlike} is not an approver under this request's rule.` } });
      // Matched as IAM matches ARNs, case-sensitively: the rolePaths entry does not place it (it is named at /), the approver pattern does not admit it.
      expect(w.h.logger.lines.find((l) => l.message === 'request refused')?.fields).toMatchObject({ code: 'FORBIDDEN', reason: `arn:aws:iam::${IDENTITY}:role/${lookAlike} may not see request ${id} (rule "sso-production-read")` });
      expect(await w.h.requests.getDetail(id)).toEqual(before);
      expect(before?.request.status).toBe('PENDING');
    } finally {
      await w.close();
    }
  });

  it('without rolePaths, the path-less trust is refused by IAM and the request ends FAILED with the reason (fail closed)', async () => {
    const w = await ssoWorld(false);
    try {
      const id = await requestAndApprove(w);
      expect((await w.h.requests.get(id))?.principalArn).toBe(`arn:aws:iam::${IDENTITY}:role/${DEVELOPER}`);

      const result = await provisionRequest(w.h.deps, id);

      expect(result.outcome).toBe('failed');
      const failed = await w.h.requests.get(id);
      expect(failed?.status).toBe('FAILED');
      expect(failed?.failure?.message).toContain('IAM does not know the principal the trust policy names');
      expect(failed?.failure?.message).toContain('rolePaths');
      // Nothing is left behind in the target account.
      expect(Object.keys(w.aws.dump().roles).filter((k) => k.startsWith('333333333333/'))).toEqual([]);
    } finally {
      await w.close();
    }
  });
});
