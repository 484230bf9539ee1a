import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { extendRequest } from '../../../src/domain/use-cases/extendRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { routeAwsMocks } from '../../helpers/fault-iam';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * The role's own inline policy ends the access in IAM: a Deny of everything
 * after the grant's end, which cuts sessions issued before the end (the trust
 * only stops new ones). Its end follows the grant's end as requests overlap,
 * are revoked and are extended. Real IamProvisioner, in-memory IAM, real
 * DynamoDB.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
beforeAll(() => routeAwsMocks(iamMock, stsMock));

const api = (arn: string) => ({ arn, via: 'api' as const });
const STAGING = '222222222222';

let w: FaultWorld;
beforeEach(async () => {
  w = await faultWorld(
    settingsWith((doc) => {
      (doc.provisioner as Record<string, unknown>).mode = 'aws';
      (doc.provisioner as Record<string, unknown>).identityRoleArn = 'arn:aws:iam::111111111111:role/rolegate-identity-granter';
      (doc.provisioner as Record<string, unknown>).identityExternalId = 'rolegate-identity-5b1e';
    }),
  );
});
afterEach(() => w.close());

/** The role's ends as IAM holds them: the trust's DateLessThan and the inline Deny's DateGreaterThan. */
function endsInIam(roleName: string): { trust: string; deny: string; denyStatement: unknown } {
  const role = w.aws.role(STAGING, roleName)!;
  const trust = JSON.parse(role.trust).Statement[0].Condition.DateLessThan['aws:CurrentTime'];
  const statements = JSON.parse(role.inline['rolegate-profile']!).Statement as Record<string, any>[];
  const denyStatement = statements.find((s) => s.Sid === 'RolegateAccessEnds');
  return { trust, deny: denyStatement?.Condition.DateGreaterThan['aws:CurrentTime'], denyStatement };
}

async function activeStaging(minutes: number) {
  // Staging ReadOnly is auto-approved.
  const request = await createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: minutes, reason: 'work' });
  const result = await provisionRequest(w.h.deps, request.id);
  expect(result.outcome).toBe('active');
  return result.request!;
}

it('puts a Deny of everything after the end on every role, even for a profile with no inline policy of its own', async () => {
  const request = await activeStaging(60);
  const roleName = request.access!.roleArn.split('/').at(-1)!;

  const ends = endsInIam(roleName);

  expect(ends.denyStatement).toEqual({ Sid: 'RolegateAccessEnds', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': request.endsAt } } });
  expect(ends.trust).toBe(request.endsAt);
  // ReadOnly has no inline policy: the Deny is the whole document.
  expect(JSON.parse(w.aws.role(STAGING, roleName)!.inline['rolegate-profile']!).Statement).toHaveLength(1);
});

it('moves the end with the grant: later for an overlapping request, back when it is revoked, forward for an extension', async () => {
  const short = await activeStaging(60);
  const long = await activeStaging(240);
  const roleName = short.access!.roleArn.split('/').at(-1)!;
  expect(endsInIam(roleName)).toMatchObject({ trust: long.endsAt, deny: long.endsAt });

  await revokeRequest(w.h.deps, api(ARN.alice), long.id, 'done early');
  // A session issued while the long request was live is cut at the short request's end, not the revoked one's.
  expect(endsInIam(roleName)).toMatchObject({ trust: short.endsAt, deny: short.endsAt });

  const extension = await extendRequest(w.h.deps, api(ARN.alice), short.id, { durationMinutes: 30, reason: 'more work' });
  const provisioned = await provisionRequest(w.h.deps, extension.id);
  expect(provisioned.outcome).toBe('active');
  expect(endsInIam(roleName)).toMatchObject({ trust: extension.endsAt, deny: extension.endsAt });
  expect(Date.parse(extension.endsAt!)).toBeGreaterThan(Date.parse(short.endsAt!));
});
