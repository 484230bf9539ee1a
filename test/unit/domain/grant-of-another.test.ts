import { grantOfAnother, type GrantLocation } from '../../../src/domain/grants';
import type { Grant } from '../../../src/domain/model';
import { parsePrincipalArn } from '../../../src/domain/principal';

/* Whether the grant stored under a request's key is the request's own: same principal (as IAM identifies it), profile and pinned session. */

const location: GrantLocation = {
  grantKey: '222222222222#rg-ReadOnly-deploy-1a2b3c4d',
  accountId: '222222222222',
  profileName: 'ReadOnly',
  principal: parsePrincipalArn('arn:aws:iam::111111111111:role/ci/deploy'),
  roleName: 'rg-ReadOnly-deploy-1a2b3c4d',
  externalId: 'ext-1',
};
const grant: Grant = {
  grantKey: location.grantKey,
  accountId: '222222222222',
  roleName: location.roleName,
  principalArn: 'arn:aws:iam::111111111111:role/ci/deploy',
  profile: 'ReadOnly',
  members: {},
  terms: { externalId: 'ext-1' },
  mode: 'aws',
  version: 1,
  updatedAt: '2026-03-02T09:00:00.000Z',
} as Grant;

it.each<[string, Grant | undefined, GrantLocation, string | undefined]>([
  ['no grant yet', undefined, location, undefined],
  ['its own grant', grant, location, undefined],
  ['its own, the ARN in another case and without the path', { ...grant, principalArn: 'arn:aws:iam::111111111111:role/DEPLOY' }, location, undefined],
  ['another principal', { ...grant, principalArn: 'arn:aws:iam::111111111111:role/deploy-two' }, location, 'principal'],
  ['the same name in another account', { ...grant, principalArn: 'arn:aws:iam::999999999999:role/ci/deploy' }, location, 'principal'],
  ['a user of the same name', { ...grant, principalArn: 'arn:aws:iam::111111111111:user/deploy' }, location, 'principal'],
  ['another profile', { ...grant, profile: 'S3ReadOnly' }, location, 'profile'],
  // Its own grant after the rule's ExternalId was rotated: the request holds the role its grant key names.
  ['another ExternalId', { ...grant, terms: { externalId: 'ext-2' } }, location, undefined],
  // A personal grant is its person's alone: never joined by, nor rewritten for, another session or the whole role.
  ['pinned to another session', { ...grant, terms: { session: 'bob' } }, { ...location, session: 'alice' }, 'pinned session'],
  ['pinned, for a request of the whole role', { ...grant, terms: { session: 'alice' } }, location, 'pinned session'],
  ['whole, for a pinned request', grant, { ...location, session: 'alice' }, 'pinned session'],
  ['pinned to the same session', { ...grant, terms: { session: 'alice' } }, { ...location, session: 'alice' }, undefined],
  ['recorded before grants kept their terms', { ...grant, terms: undefined } as unknown as Grant, location, undefined],
])('%s', (_what, stored, where, differs) => {
  const why = grantOfAnother(stored, where);
  if (differs === undefined) expect(why).toBeUndefined();
  else expect(why).toBe(`Role ${where.roleName} in account 222222222222 belongs to another grant (its ${differs} differs from this request's); rolegate will not change it for this request. Tell your rolegate administrators: two grants derived one role name.`);
});
