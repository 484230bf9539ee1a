import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { grantLocationFor } from '../../../src/domain/grants';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { revokeRequest } from '../../../src/domain/use-cases/endAccess';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { routeAwsMocks } from '../../helpers/fault-iam';
import { faultWorld, type FaultWorld } from '../../helpers/fault-world';
import { ARN, awsModeSettings } from '../../helpers/settings';

/*
 * IAM keeps a trusted principal by its unique id, and shows that id in the
 * trust once the user or role is deleted: the trust then admits nobody. A
 * principal made later under the same name is someone else, so no change to
 * the grant (a request joining, one leaving, the reconciler) may write the
 * name's ARN back into that trust, nor put the identity-side policy on it.
 */

const iamMock = mockClient(IAMClient);
const stsMock = mockClient(STSClient);
beforeAll(() => routeAwsMocks(iamMock, stsMock));

const api = (arn: string) => ({ arn, via: 'api' as const });
const UNIQUE_ID = 'AIDAJQABLZS4A3QDU576Q';

let w: FaultWorld;
beforeEach(async () => {
  w = await faultWorld(awsModeSettings());
});
afterEach(() => w.close());

it('leaves a trust IAM voided as it is, whoever joins or leaves the grant, and deletes the role with the last request', async () => {
  const live = async (minutes: number) => {
    const r = await createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: minutes, reason: 'work' });
    expect((await provisionRequest(w.h.deps, r.id)).outcome).toBe('active');
    return r;
  };
  const shorter = await live(60);
  const longer = await live(120);
  const { roleName } = grantLocationFor(w.h.deps.settings, shorter);
  // Alice is deleted: IAM shows her unique id where her ARN was.
  w.aws.tamper('222222222222', roleName, (role) => void (role.trust = role.trust.replace(ARN.alice, UNIQUE_ID)));
  const trust = () => w.aws.role('222222222222', roleName)!.trust;
  const voided = trust();
  expect(voided).toContain(UNIQUE_ID);
  const sent: string[] = [];
  w.aws.onCall = (_service, command) => void sent.push(command);

  // The later-ending request leaves: the role would move back to the other's end, but it admits nobody.
  expect((await revokeRequest(w.h.deps, api(ARN.alice), longer.id, 'left the company')).status).toBe('REVOKED');
  expect(trust()).toBe(voided);
  expect(sent.filter((c) => /^(Update|Put|Attach|Create)/.test(c))).toEqual([]);
  expect((await w.h.requests.getDetail(longer.id))!.events.find((e) => e.action === 'ACCESS_REMOVED')!.data).toEqual({
    roleDeleted: false,
    stillCoveredBy: [shorter.id],
    calls: [],
    roleNotRewritten: 'as its grantee was deleted and it admits nobody',
  });

  // Someone made since under alice's name asks: nothing is written for them on that role.
  const newcomer = await createRequest(w.h.deps, api(ARN.alice), { account: 'staging', profile: 'ReadOnly', durationMinutes: 30, reason: 'new here' });
  const result = await provisionRequest(w.h.deps, newcomer.id);
  expect(result.outcome).toBe('failed');
  expect(result.request!.failure).toMatchObject({ code: 'PrincipalDeleted', retryable: false });
  expect(result.request!.failure!.message).toContain(`trusts ${UNIQUE_ID}, IAM's id for a grantee deleted since the role was granted`);
  expect(trust()).toBe(voided);
  expect(sent.filter((c) => /^(Update|Put|Attach|Create)/.test(c))).toEqual([]);

  // The last live request leaves: the role goes.
  expect((await revokeRequest(w.h.deps, api(ARN.alice), shorter.id, 'left the company')).status).toBe('REVOKED');
  expect(w.aws.role('222222222222', roleName)).toBeUndefined();
});
