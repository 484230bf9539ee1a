import { DeleteUserPolicyCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { MemoryLogger } from '../../../src/adapters/logger';
import { identityPolicyName } from '../../../src/adapters/aws/identity-granter';
import { composeApp } from '../../../src/compose';
import { readEnv } from '../../../src/environment';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { freshTable } from '../../helpers/dynamo';
import { ARN, awsModeSettings } from '../../helpers/settings';

/*
 * The deployed composition loads the IAM provisioner lazily behind a thin
 * wrapper; every argument must reach it. A role of rolegate's name that
 * someone else made (no managed-by tag) fails the request, and undoing that
 * failure must leave the role alone rather than refuse to, or the request
 * would stay APPROVED and be retried for ever. IAM and STS are mocked.
 */

let iam: AwsClientStub<IAMClient>;
let sts: AwsClientStub<STSClient>;
beforeAll(() => {
  iam = mockClient(IAMClient);
  sts = mockClient(STSClient);
});
afterAll(() => {
  iam.restore();
  sts.restore();
});

it('ends a request FAILED when its role name belongs to a role rolegate does not manage, and deletes nothing', async () => {
  const table = await freshTable();
  try {
    const settings = awsModeSettings();
    const app = composeApp({ env: readEnv({ AWS_LAMBDA_FUNCTION_NAME: 'rolegate-dev-worker', ROLEGATE_TABLE: table.tableName }), settings, logger: new MemoryLogger(), dynamodb: table.client });
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: 'ASIA', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3600_000) } });
    const r = await createRequest(app.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
    // The role name rolegate derives for the request, held by a role someone else made under rolegate's path.
    iam.on(GetRoleCommand).callsFake((input: { RoleName: string }) => ({
      Role: { RoleName: input.RoleName, RoleId: 'AROAOTHER', Path: '/rolegate/', Arn: `arn:aws:iam::222222222222:role/rolegate/${input.RoleName}`, CreateDate: new Date(), Tags: [] },
    }));
    iam.on(DeleteUserPolicyCommand).resolves({});

    const result = await provisionRequest(app.deps, r.id);

    expect(result.outcome).toBe('failed');
    expect(result.request).toMatchObject({ status: 'FAILED', failure: { code: 'RoleNotManaged', retryable: false } });
    const stored = await app.deps.requests.get(r.id);
    expect(stored).toMatchObject({ status: 'FAILED', failure: { code: 'RoleNotManaged' } });
    // The other owner's role was read, never written.
    expect(iam.commandCalls(GetRoleCommand).length).toBeGreaterThanOrEqual(2);
    // Nothing but the requester's own identity-side policy is written (its removal, should an earlier attempt have put it).
    const writes = iam.calls().map((c) => c.args[0].constructor.name).filter((name) => !/^(Get|List)/.test(name));
    expect(writes).toEqual(['DeleteUserPolicyCommand']);
    expect(iam.commandCalls(DeleteUserPolicyCommand)[0]!.args[0].input).toEqual({ UserName: 'alice', PolicyName: identityPolicyName(`222222222222#${iam.commandCalls(GetRoleCommand)[0]!.args[0].input.RoleName}`) });
  } finally {
    await table.drop();
  }
});
