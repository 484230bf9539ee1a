import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { MemoryLogger } from '../../../src/adapters/logger';
import { composeApp } from '../../../src/compose';
import { readEnv } from '../../../src/environment';
import { reconcile } from '../../../src/domain/use-cases/reconcile';
import { freshTable } from '../../helpers/dynamo';
import { awsModeSettings } from '../../helpers/settings';

/*
 * The deployed composition wires reconciliation end to end: the provisioner
 * it builds (loaded lazily) lists and re-reads roles, so reconcile() sees
 * drift instead of quietly finding nothing. IAM and STS are mocked.
 */

const iam = mockClient(IAMClient);
const sts = mockClient(STSClient);
afterEach(() => {
  iam.reset();
  sts.reset();
});

it('reconciles through the provisioner the deployed composition builds', async () => {
  const table = await freshTable();
  try {
    const settings = awsModeSettings();
    const app = composeApp({ env: readEnv({ AWS_LAMBDA_FUNCTION_NAME: 'rolegate-dev-reconciler', ROLEGATE_TABLE: table.tableName }), settings, logger: new MemoryLogger(), dynamodb: table.client });
    const expiry = new Date(Date.now() + 3600_000);
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: 's', SessionToken: 't', Expiration: expiry } });
    const stray = 'rg-ReadOnly-mallory-deadbeef';
    const role = {
      RoleName: stray,
      RoleId: 'AROAEXAMPLE',
      Path: '/rolegate/',
      Arn: `arn:aws:iam::222222222222:role/rolegate/${stray}`,
      CreateDate: new Date(),
      AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: [] })),
      Tags: [{ Key: 'managed-by', Value: 'rolegate' }],
      MaxSessionDuration: 3600,
    };
    iam.on(ListRolesCommand).resolves({ Roles: [], IsTruncated: false });
    iam.on(ListRolesCommand, { PathPrefix: '/rolegate/' }).resolves({ Roles: [role], IsTruncated: false });
    iam.on(GetRoleCommand, { RoleName: stray }).resolves({ Role: role });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });

    const drift = await reconcile(app.deps);

    // Tagged rolegate's, but naming none of this table's requests: another deployment's (or older than the table).
    expect(drift).toContainEqual({
      accountId: '222222222222',
      roleName: stray,
      kind: 'unknown-role',
      detail: "a rolegate role that none of this deployment's requests made (another rolegate deployment's, or older than this table): left as it is",
      repaired: false,
    });
    // Listed, then read again under the lease before it was reported.
    expect(iam.commandCalls(GetRoleCommand, { RoleName: stray }).length).toBeGreaterThanOrEqual(2);
    // Reported only: no IAM write was sent (the mock would have answered one).
    expect(iam.calls().map((c) => c.args[0].constructor.name).filter((name) => !/^(Get|List)/.test(name))).toEqual([]);
  } finally {
    await table.drop();
  }
});
