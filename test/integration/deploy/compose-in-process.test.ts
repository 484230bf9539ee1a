import { MemoryLogger } from '../../../src/adapters/logger';
import { composeApp, type InProcessWork } from '../../../src/compose';
import { readEnv } from '../../../src/environment';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { IN_PROCESS } from '../../../src/local/in-process';
import { freshTable } from '../../helpers/dynamo';
import type { SlackJob } from '../../../src/adapters/dynamodb/slack-store';
import { ARN, exampleSettings, settingsWith } from '../../helpers/settings';

/*
 * Who provisions an approved request: the local run, given its in-process
 * work, at once in its own process; a deployed function leaves it to the
 * worker (the table's stream), so its composition holds no provisioning of
 * its own. On DynamoDB Local, with the example's dry-run provisioner.
 */
describe('the composition root decides who provisions', () => {
  it.each([
    ['the local run provisions in-process', IN_PROCESS, 'ACTIVE'],
    ['a deployed function leaves it to the worker', undefined, 'APPROVED'],
  ])('%s', async (_name, inProcess: InProcessWork | undefined, status) => {
    const table = await freshTable();
    try {
      const app = composeApp({
        env: readEnv({ ...(inProcess ? { ROLEGATE_LOCAL: 'true' } : { AWS_LAMBDA_FUNCTION_NAME: 'rolegate-dev-api' }), ROLEGATE_TABLE: table.tableName }),
        settings: exampleSettings(),
        ...(inProcess ? { inProcess } : {}),
        logger: new MemoryLogger(),
        dynamodb: table.client,
      });
      const r = await createRequest(app.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
      await decideRequest(app.deps, { arn: ARN.leadAnna, via: 'api' }, { requestId: r.id, decision: 'APPROVE' });
      await app.drain?.();

      expect(app.drain === undefined).toBe(inProcess === undefined);
      expect((await app.deps.requests.get(r.id))!.status).toBe(status);
    } finally {
      await table.drop();
    }
  });
});

describe('the composition root decides who runs a Slack job', () => {
  const job: SlackJob = { id: 'job-1', slackUserId: 'U0ALICE', principalArn: ARN.alice, responseUrl: 'https://hooks.slack.com/actions/T0/1/x', work: { kind: 'approve', requestId: '01J0000000000000000000000Z' } };
  const compose = (inProcess?: InProcessWork) =>
    composeApp({
      env: readEnv({ ...(inProcess ? { ROLEGATE_LOCAL: 'true' } : { AWS_LAMBDA_FUNCTION_NAME: 'rolegate-dev-slack' }), ROLEGATE_TABLE: 't' }),
      settings: settingsWith((doc) => (doc.slack = { users: {} })),
      ...(inProcess ? { inProcess } : {}),
      logger: new MemoryLogger(),
    });

  it('the local run runs it in its own process, with the composed app\'s Slack client and job ledger', async () => {
    const ran: Parameters<InProcessWork['runSlackJob']>[] = [];
    const app = compose({ provision: IN_PROCESS.provision, runSlackJob: async (...args) => void ran.push(args) });

    app.runSlackJobInProcess!(job);
    await new Promise((resolve) => setImmediate(resolve));

    expect(ran).toEqual([[{ deps: app.deps, slack: app.slack!.api, jobs: app.slack!.store }, job]]);
  });

  it('a deployed Slack function has no in-process runner: the worker runs its jobs from the stream', () => {
    expect(compose().runSlackJobInProcess).toBeUndefined();
  });
});
