import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { load as parseYaml } from 'js-yaml';
import { routes } from '../../../src/handlers/http/routes';
import { answeredCodes, openApiDocument } from '../../../src/handlers/http/openapi';
import { LOCAL_ONLY_CODES, STATUS_BY_CODE } from '../../../src/handlers/http/errors';
import { OPAQUE_CODES } from '../../../src/domain/errors';
import { createRequestBody } from '../../../src/handlers/http/schemas';
import { validatedConfig } from '../../../src/config';
import { grantItemKey } from '../../../src/adapters/dynamodb/keys';
import { deploymentCode } from '../../../scripts/deployment-build';
import { unzip } from '../../helpers/unzip';
import { callBuiltHandler } from '../../helpers/built-handler';
import { apiEvent } from '../../helpers/events';
import { ARN } from '../../helpers/settings';
import { CONDITION_CHECK, TABLE_ACTIONS } from '../../helpers/role-actions';
import { version } from '../../../package.json';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { freshTable } from '../../helpers/dynamo';
import { allRawItems } from '../../helpers/table';
import { ATTEMPT_MAX_MS } from '../../../src/adapters/aws/retry';
import { DynamoSlackStore } from '../../../src/adapters/dynamodb/slack-store';
import { createMetrics } from '../../../src/adapters/metrics';
import type { MetricName } from '../../../src/domain/ports';
import { INTERACTIVE_LEASE_ATTEMPTS, RUN_MARGIN_MS } from '../../../src/handlers/lease-waits';

const ROOT = join(__dirname, '..', '..', '..');

type Resource = { Type: string; Properties: Record<string, any> };
type Template = { Resources: Record<string, Resource>; Outputs: Record<string, { Value: unknown }>; Conditions?: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** The namespace, dimensions (as an alarm names them) and metric names of the EMF line a deployed function writes for `names`. */
function emfOf(stage: string, names: MetricName[]): { namespace: string; dimensions: { Name: string; Value: string }[]; metrics: string[] } {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    const metrics = createMetrics(stage);
    for (const name of names) metrics.count(name);
    metrics.flush();
  } finally {
    spy.mockRestore();
  }
  const line = lines.map((l) => JSON.parse(l)).find((l) => l._aws);
  const [directive] = line._aws.CloudWatchMetrics;
  const dimensions = (directive.Dimensions[0] as string[]).map((Name) => ({ Name, Value: line[Name] }));
  return { namespace: directive.Namespace, dimensions, metrics: directive.Metrics.map((m: { Name: string }) => m.Name) };
}

/** `serverless package` with the open-source CLI (osls), no AWS credentials, as CI runs it. */
/** Packages stage ci, with the example configuration unless the params name one (only stage dev falls back on it). */
function packageTemplate(params: string[] = [], inspect?: (dir: string) => void, { exampleConfig = true } = {}): Template {
  if (exampleConfig && !params.some((p) => p.startsWith('--param=configFile='))) params = ['--param=configFile=config/rolegate.example.yaml', ...params];
  const work = mkdtempSync(join(tmpdir(), 'rolegate-sls-'));
  const dir = join(work, 'package');
  // The framework builds each function in a directory of its own under the temporary directory and leaves it
  // there (about 6 MB each): under this run's, it goes with it.
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: join(work, 'tmp') };
  mkdirSync(env.TMPDIR!);
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'ci', '--package', dir, ...params], { cwd: ROOT, env, stdio: 'pipe' });
    inspect?.(dir);
    return JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

describe('the deployment template (serverless package)', () => {
  let template: Template;
  let resources: Record<string, Resource>;
  /** Each function's package (api.zip …), kept for the tests that open them. */
  const packages = mkdtempSync(join(tmpdir(), 'rolegate-zips-'));
  beforeAll(() => {
    template = packageTemplate([], (dir) => {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.zip'))) copyFileSync(join(dir, f), join(packages, f));
    });
    resources = template.Resources;
  }, 120_000);
  afterAll(() => rmSync(packages, { recursive: true, force: true }));
  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type);

  it('declares exactly the routes of the route table, all IAM-authorized but health and the OpenAPI document', () => {
    const declared = ofType('AWS::ApiGatewayV2::Route').map((r) => `${r.Properties.RouteKey} ${r.Properties.AuthorizationType ?? 'NONE'}`).sort();
    // Slack's two endpoints carry no IAM auth: Slack signs every call and the function verifies it.
    const expected = [...routes.map((r) => `${r.method} ${r.path} ${r.public ? 'NONE' : 'AWS_IAM'}`), 'POST /slack/commands NONE', 'POST /slack/interactions NONE'].sort();
    expect(declared).toEqual(expected);
  });

  it('has the table with its keys, four GSIs, stream, point-in-time recovery and deletion protection', () => {
    const table = resources.RolegateTable!;
    expect((table as unknown as { DeletionPolicy: string }).DeletionPolicy).toBe('Retain');
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.Properties.GlobalSecondaryIndexes.map((g: { IndexName: string }) => g.IndexName)).toEqual(['byStatus', 'byPrincipal', 'byDue', 'byExtends']);
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
  });

  it('runs the sweeper every minute and feeds the worker only fresh approvals from the stream', () => {
    expect(ofType('AWS::Events::Rule').map((r) => r.Properties.ScheduleExpression).sort()).toEqual(['rate(1 minute)', 'rate(15 minutes)']);
    const [mapping] = ofType('AWS::Lambda::EventSourceMapping');
    expect(mapping!.Properties.FilterCriteria.Filters.map((f: { Pattern: string }) => JSON.parse(f.Pattern))).toEqual([
      { dynamodb: { NewImage: { type: { S: ['request'] }, status: { S: ['APPROVED'] }, provisioningAttempts: { N: ['0'] } } } },
      { eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: ['slack-job'] } } } },
      { eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: ['event'] }, notify: { S: [{ exists: true }] } } } },
    ]);
    expect(mapping!.Properties.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': ['WorkerDeadLetterQueue', 'Arn'] });
    // Batches of a shard in parallel (each partition key in order): one slow webhook does not hold up the rest.
    expect(mapping!.Properties).toMatchObject({ BatchSize: 5, ParallelizationFactor: 4, MaximumRetryAttempts: 3, BisectBatchOnFunctionError: true, FunctionResponseTypes: ['ReportBatchItemFailures'] });
  });

  /** The role each function runs with: `WorkerLambdaFunction` → `WorkerRole`. */
  const roleOf = (fn: string): string => {
    const role = resources[fn]!.Properties.Role as { 'Fn::GetAtt': [string, string] };
    expect(role['Fn::GetAtt'][1]).toBe('Arn');
    return role['Fn::GetAtt'][0];
  };
  const functionNames = () => Object.keys(resources).filter((k) => resources[k]!.Type === 'AWS::Lambda::Function');
  const roleNames = () => Object.keys(resources).filter((k) => resources[k]!.Type === 'AWS::IAM::Role');
  const statementsOf = (role: string): Statement[] => resources[role]!.Properties.Policies.flatMap((p: { PolicyDocument: { Statement: Statement[] } }) => p.PolicyDocument.Statement);
  const actionsOf = (s: Statement) => [s.Action].flat();
  const TABLE = { 'Fn::GetAtt': ['RolegateTable', 'Arn'] };
  const index = (name: string) => ({ 'Fn::Join': ['/', [TABLE, 'index', name]] });
  /** Listings (by status, by requester), a revoke's search for extensions, and the sweeper's due work. */
  const LISTING_INDEXES = [index('byStatus'), index('byPrincipal'), index('byExtends')];
  const DUE_INDEX = index('byDue');
  /** Deletes of grant items alone: no role may delete a request, a decision or an audit event. */
  const GRANT_DELETES = { Effect: 'Allow', Action: 'dynamodb:DeleteItem', Resource: TABLE, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['GRANT#*'] } } };
  const STREAM_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'];

  it('gives each function its own role, with no wildcard action and no bare wildcard resource', () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns.map((f) => f.Properties.Runtime)).toEqual(Array(fns.length).fill('nodejs22.x'));
    expect(Object.fromEntries(functionNames().map((fn) => [fn, roleOf(fn)]))).toEqual({
      ApiLambdaFunction: 'ApiRole',
      SlackLambdaFunction: 'SlackRole',
      WorkerLambdaFunction: 'WorkerRole',
      SweeperLambdaFunction: 'SweeperRole',
      ReconcilerLambdaFunction: 'ReconcilerRole',
    });
    // No other role (say, a shared one the framework would add) exists to be used instead.
    expect(roleNames().sort()).toEqual(['ApiRole', 'ReconcilerRole', 'SlackRole', 'SweeperRole', 'WorkerRole']);
    for (const role of roleNames()) {
      for (const statement of statementsOf(role)) {
        expect(actionsOf(statement).every((a: string) => !a.includes('*'))).toBe(true);
        expect([statement.Resource].flat()).not.toContain('*');
      }
    }
    const apiActions = statementsOf('ApiRole').flatMap(actionsOf);
    expect(apiActions.some((a: string) => a.startsWith('iam:'))).toBe(false);
    // Notifications go out from the worker: the API reads no secret.
    expect(apiActions).not.toContain('ssm:GetParameter');
  });

  it('lets only the worker read the stream, the dead-letter queue and every secret (Slack: its two secrets only)', () => {
    // By function, not by role: a role shared with the worker would hand the sweeper or the reconciler all of it.
    const holders = (test: (action: string) => boolean) => functionNames().filter((fn) => statementsOf(roleOf(fn)).flatMap(actionsOf).some(test)).sort();
    expect(holders((a) => a.startsWith('sqs:'))).toEqual(['WorkerLambdaFunction']);
    expect(holders((a) => STREAM_ACTIONS.includes(a))).toEqual(['WorkerLambdaFunction']);
    expect(holders((a) => a.startsWith('ssm:'))).toEqual(['SlackLambdaFunction', 'WorkerLambdaFunction']);
    for (const fn of functionNames().filter((f) => f !== 'WorkerLambdaFunction')) {
      const text = JSON.stringify(statementsOf(roleOf(fn)));
      expect(text).not.toContain('StreamArn');
      expect(text).not.toContain('WorkerDeadLetterQueue');
    }
    const worker = statementsOf('WorkerRole');
    expect(worker.find((s) => actionsOf(s).includes('sqs:SendMessage'))!.Resource).toEqual({ 'Fn::GetAtt': ['WorkerDeadLetterQueue', 'Arn'] });
    expect(worker.find((s) => actionsOf(s).includes('dynamodb:GetRecords'))!.Resource).toEqual({ 'Fn::GetAtt': ['RolegateTable', 'StreamArn'] });
  });

  it('grants the indexes only dynamodb:Query, and item actions on the table alone, only those the code sends', () => {
    for (const role of roleNames()) {
      for (const statement of statementsOf(role)) {
        const resources = [statement.Resource].flat();
        const text = JSON.stringify(resources);
        if (text.includes('index')) expect({ role, Action: statement.Action }).toEqual({ role, Action: 'dynamodb:Query' });
        if (actionsOf(statement).some((a) => a.startsWith('dynamodb:') && !STREAM_ACTIONS.includes(a))) {
          const allowed = [TABLE, ...LISTING_INDEXES, DUE_INDEX].map((r) => JSON.stringify(r));
          expect(resources.every((r) => allowed.includes(JSON.stringify(r)))).toBe(true);
        }
      }
    }
    // Each role's table actions are those of test/helpers/role-actions.ts (which the recording tests hold the code
    // each function runs to), with the grant-item deletes; the Slack one's single conditioned PutItem is below.
    for (const role of ['ApiRole', 'WorkerRole', 'SweeperRole', 'ReconcilerRole'] as const) {
      const table = statementsOf(role).filter((s) => JSON.stringify(s.Resource) === JSON.stringify(TABLE));
      const actions = TABLE_ACTIONS[role];
      const items = { Effect: 'Allow', Action: actions.filter((a) => a !== CONDITION_CHECK), Resource: TABLE };
      const check = actions.includes(CONDITION_CHECK) ? [{ Effect: 'Allow', Action: CONDITION_CHECK, Resource: TABLE }] : [];
      expect({ role, table }).toEqual({ role, table: [items, GRANT_DELETES, ...check] });
      const indexes = statementsOf(role).filter((s) => JSON.stringify(s.Resource).includes('index'));
      // Each function queries only the indexes it reads: the sweeper due work, the API every listing and a revoke's
      // extensions; the worker's Slack jobs list only the caller's own requests (view mine) and revoke.
      const expected = { ApiRole: LISTING_INDEXES, WorkerRole: [index('byPrincipal'), index('byExtends')], SweeperRole: DUE_INDEX, ReconcilerRole: undefined }[role];
      expect({ role, indexes }).toEqual({ role, indexes: expected ? [{ Effect: 'Allow', Action: 'dynamodb:Query', Resource: expected }] : [] });
    }
    const everyAction = roleNames().flatMap((r) => statementsOf(r).flatMap(actionsOf));
    for (const unused of ['dynamodb:Scan', 'dynamodb:BatchWriteItem', 'dynamodb:BatchGetItem']) expect(everyAction).not.toContain(unused);
  });

  it('holds, in the roles of the functions that write requests, every DynamoDB action the source sends', () => {
    // Read from the code, so a new kind of call (as a ConditionCheck once was) cannot ship without its grant.
    const ACTION_OF: Record<string, string> = {
      GetCommand: 'dynamodb:GetItem',
      PutCommand: 'dynamodb:PutItem',
      UpdateCommand: 'dynamodb:UpdateItem',
      DeleteCommand: 'dynamodb:DeleteItem',
      QueryCommand: 'dynamodb:Query',
      ScanCommand: 'dynamodb:Scan',
      BatchGetCommand: 'dynamodb:BatchGetItem',
      BatchWriteCommand: 'dynamodb:BatchWriteItem',
      'Put:': 'dynamodb:PutItem',
      'Update:': 'dynamodb:UpdateItem',
      'Delete:': 'dynamodb:DeleteItem',
      'ConditionCheck:': 'dynamodb:ConditionCheckItem',
      'Get:': 'dynamodb:GetItem',
      TransactGetCommand: 'dynamodb:GetItem',
    };
    const sent = new Set<string>();
    // Every file that talks to DynamoDB, but the local engine's table set-up (CreateTable, ListTables).
    const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.startsWith('local'));
    for (const file of files) {
      const text = readFileSync(join(ROOT, 'src', file), 'utf8');
      if (!/@aws-sdk\/(?:lib|client)-dynamodb'/.test(text)) continue;
      for (const m of text.matchAll(/new (\w+Command)\(|\b(Put|Update|Delete|ConditionCheck|Get):\s*\{/g)) {
        const name = m[1] ?? `${m[2]}:`;
        if (name === 'TransactWriteCommand') continue; // authorised part by part (Put, Update, Delete, ConditionCheck)
        // A DynamoDB call this test does not know fails it: map it (and grant it) before it ships.
        expect({ file, name, known: name in ACTION_OF }).toEqual({ file, name, known: true });
        sent.add(ACTION_OF[name]!);
      }
    }
    expect([...sent].sort()).toEqual(['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].sort());
    // The deletes the roles may send are of grant items (GRANT#…): every one in the source names a grant's key.
    const deletes = files.flatMap((file) => [...readFileSync(join(ROOT, 'src', file), 'utf8').matchAll(/new DeleteCommand\(\{[^}]*?Key: (\w+)\(/g)].map((m) => ({ file, key: m[1] })));
    expect(deletes).toEqual([
      { file: 'adapters/dynamodb/grant-store.ts', key: 'grantItemKey' },
      { file: 'adapters/dynamodb/grant-store.ts', key: 'grantItemKey' },
    ]);
    expect(grantItemKey('222222222222#rg-ReadOnly-alice-0a1b2c3d').pk).toMatch(/^GRANT#/);
    for (const role of ['ApiRole', 'WorkerRole']) {
      const held = statementsOf(role).filter((s) => JSON.stringify(s.Resource) === JSON.stringify(TABLE)).flatMap(actionsOf);
      expect({ role, missing: [...sent].filter((a) => !held.includes(a)) }).toEqual({ role, missing: [] });
    }
  });

  it("names in each role's log statement only the log group of the function that uses it", () => {
    for (const fn of functionNames()) {
      const role = roleOf(fn);
      const logs = statementsOf(role).filter((s) => actionsOf(s).some((a) => a.startsWith('logs:')));
      expect(logs.map((s) => s.Action)).toEqual([['logs:CreateLogStream', 'logs:PutLogEvents']]);
      const groups = [logs[0]!.Resource].flat().map((r) => /log-group:(.*)$/.exec((r as { 'Fn::Sub': string })['Fn::Sub'])![1]);
      expect({ fn, role, groups }).toEqual({ fn, role, groups: [`/aws/lambda/${resources[fn]!.Properties.FunctionName}:*`] });
    }
  });

  it('lets the reconciler assume only provisioner roles, and gives the templates each list of roles they trust or protect as a stack output', () => {
    const PROVISIONER = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/rolegate-provisioner' };
    const IDENTITY = { 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/rolegate-identity-granter' };
    const assumes = (role: string) => statementsOf(role).filter((s) => actionsOf(s).some((a) => a.startsWith('sts:')));
    // In accounts of the organisation organizationId names; with none given (here), the condition resolves to nothing.
    const IN_ORGANIZATION = { 'Fn::If': ['InOneOrganization', { StringEquals: { 'aws:ResourceOrgID': '' } }, { Ref: 'AWS::NoValue' }] };
    expect(template.Conditions).toEqual({ InOneOrganization: { 'Fn::Not': [{ 'Fn::Equals': ['', ''] }] } });
    for (const role of ['ApiRole', 'WorkerRole', 'SweeperRole']) {
      expect({ role, sts: assumes(role) }).toEqual({ role, sts: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: [PROVISIONER, IDENTITY], Condition: IN_ORGANIZATION }] });
    }
    // Drift is found and repaired in target accounts; identity-account policies are the sweeper's and the API's.
    expect(assumes('ReconcilerRole')).toEqual([{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: PROVISIONER, Condition: IN_ORGANIZATION }]);
    expect(assumes('SlackRole')).toEqual([]);
    const mayAssume = (arn: unknown) => roleNames().filter((r) => assumes(r).some((s) => [s.Resource].flat().some((x) => JSON.stringify(x) === JSON.stringify(arn))));
    const rolesIn = (output: string) => {
      const value = template.Outputs[output]!.Value as { 'Fn::Join': [string, { 'Fn::GetAtt': [string, string] }[]] };
      expect(value['Fn::Join'][0]).toBe(',');
      return value['Fn::Join'][1].map((r) => r['Fn::GetAtt'][0]).sort();
    };
    // Each trust names exactly the functions that assume the role: one left out fails there, one more is trust for nothing.
    expect(rolesIn('RolegateExecutionRoleArns')).toEqual(mayAssume(PROVISIONER).sort());
    expect(rolesIn('RolegateIdentityExecutionRoleArns')).toEqual(mayAssume(IDENTITY).sort());
    // The identity-granter role may change none of rolegate's roles, the internet-facing Slack function's included.
    expect(rolesIn('RolegateAllExecutionRoleArns')).toEqual(roleNames().sort());
    // Every list of ARNs the templates ask for is an output of the same name.
    for (const file of ['provisioner-role.yaml', 'identity-granter-role.yaml']) {
      const parameters = (parseYaml(readFileSync(join(ROOT, 'templates', file), 'utf8')) as { Parameters: Record<string, unknown> }).Parameters;
      for (const name of Object.keys(parameters).filter((p) => p.startsWith('Rolegate'))) expect({ file, name, output: name in template.Outputs }).toEqual({ file, name, output: true });
    }
  });

  it('lets the internet-facing Slack function write only Slack job items and read only the Slack secrets', async () => {
    const statements = statementsOf('SlackRole');
    expect(statements.map((s: { Action: string | string[] }) => s.Action)).toEqual(['dynamodb:PutItem', 'ssm:GetParameter', ['logs:CreateLogStream', 'logs:PutLogEvents']]);
    expect(statements[0]).toEqual({
      Effect: 'Allow',
      Action: 'dynamodb:PutItem',
      Resource: { 'Fn::GetAtt': ['RolegateTable', 'Arn'] },
      Condition: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SLACKJOB#*'] },
        // No index key (gsi1pk, gsi2pk, duepk…): nothing it writes can be listed, swept or provisioned as a request.
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'type', 'job', 'expiresAt'] },
      },
    });
    // The attributes allowed are exactly those the Slack function writes: one more would fail in production.
    // Written to a table on the engine and read back as stored.
    const table = await freshTable();
    try {
      const doc = DynamoDBDocumentClient.from(table.client);
      await new DynamoSlackStore(doc, table.tableName).putJob({
        id: 'job-1',
        slackUserId: 'U1',
        principalArn: 'arn:aws:iam::111111111111:user/alice',
        responseUrl: 'https://hooks.slack.com/actions/T/1/x',
        createdAt: '2026-03-02T09:00:00.000Z',
        work: { kind: 'deny', requestId: '01ARZ3NDEKTSV4RRFFQ69G5FAV', reason: 'no' },
      });
      const stored = await allRawItems({ tableName: table.tableName, requests: { doc } });
      expect(stored.map((item) => Object.keys(item).sort())).toEqual([['expiresAt', 'job', 'pk', 'sk', 'type']]);
    } finally {
      await table.drop();
    }
    expect(statements[1]!.Resource).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/rolegate/slack/*' });
    expect(JSON.stringify(statements)).not.toContain('sts:');
  });

  it('alarms on worker, sweeper, reconciler and API errors, a lagging worker, a sweeper or reconciler that stopped, dead letters, provisioning, expiry, removal, reconciliation, Slack-action and notification failures and drift, to one topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    // Typed, so a metric renamed in the code fails here rather than leave its alarm watching nothing.
    const alarmed: MetricName[] = ['DriftFound', 'ExpiryFailed', 'NotificationFailed', 'ProvisioningFailed', 'ReconcileFailed', 'RemovalOwed', 'RevocationIncomplete', 'SlackJobFailed'];
    expect(alarms.map((a) => `${a.Properties.Namespace}/${a.Properties.MetricName}`).sort()).toEqual([
      'AWS/ApiGateway/5xx',
      'AWS/Lambda/Errors',
      'AWS/Lambda/Errors',
      'AWS/Lambda/Errors',
      'AWS/Lambda/Invocations',
      'AWS/Lambda/Invocations',
      'AWS/Lambda/IteratorAge',
      'AWS/SQS/ApproximateNumberOfMessagesVisible',
      ...alarmed.map((m) => `rolegate/${m}`),
    ]);
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
    // Each of rolegate's own alarms watches the namespace and dimensions the functions' EMF lines carry.
    const emf = emfOf('ci', alarmed);
    for (const a of alarms.filter((x) => x.Properties.Namespace === 'rolegate')) {
      expect({ metric: a.Properties.MetricName, namespace: a.Properties.Namespace, dimensions: a.Properties.Dimensions }).toEqual({
        metric: a.Properties.MetricName,
        namespace: emf.namespace,
        dimensions: emf.dimensions,
      });
      expect(emf.metrics).toContain(a.Properties.MetricName);
    }
    // A schedule that stopped shows: the sweeper's within 10 to 20 minutes, the reconciler's (every 15 minutes) after three missed runs.
    expect(
      alarms
        .filter((a) => a.Properties.MetricName === 'Invocations')
        .map((a) => [a.Properties.Dimensions[0].Value.Ref, a.Properties.Period, a.Properties.ComparisonOperator, a.Properties.Threshold, a.Properties.TreatMissingData])
        .sort(),
    ).toEqual([
      ['ReconcilerLambdaFunction', 2700, 'LessThanThreshold', 1, 'breaching'],
      ['SweeperLambdaFunction', 600, 'LessThanThreshold', 1, 'breaching'],
    ]);
    // The stack names the topic, so on-call can be subscribed without searching the console; and the table, for exports.
    expect(template.Outputs.AlarmTopicArn!.Value).toEqual({ Ref: 'AlarmTopic' });
    expect(template.Outputs.TableArn!.Value).toEqual({ 'Fn::GetAtt': ['RolegateTable', 'Arn'] });
    // The API answers its own failures (500, 502) without a Lambda error: only the gateway counts them, on this API.
    const api = alarms.find((a) => a.Properties.Namespace === 'AWS/ApiGateway')!;
    expect(api.Properties.Dimensions).toEqual([{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }]);
    expect(resources.HttpApi!.Type).toBe('AWS::ApiGatewayV2::Api');
    const lambda = alarms.filter((a) => a.Properties.Namespace === 'AWS/Lambda').map((a) => `${a.Properties.MetricName} ${a.Properties.Dimensions[0].Value.Ref}`).sort();
    expect(lambda).toEqual(['Errors ReconcilerLambdaFunction', 'Errors SweeperLambdaFunction', 'Errors WorkerLambdaFunction', 'Invocations ReconcilerLambdaFunction', 'Invocations SweeperLambdaFunction', 'IteratorAge WorkerLambdaFunction']);
    // A sweeper that stopped sends no data at all: only missing data counted as breaching shows it.
    const stopped = alarms.find((a) => a.Properties.MetricName === 'Invocations')!;
    expect(stopped.Properties).toMatchObject({ Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    expect(alarms.find((a) => a.Properties.MetricName === 'IteratorAge')!.Properties).toMatchObject({ Statistic: 'Maximum', Threshold: 120000, ComparisonOperator: 'GreaterThanThreshold' });
  });

  it('encrypts the alarm topic with a key CloudWatch may use (the AWS-managed SNS key would silence every alarm)', () => {
    expect(resources.AlarmTopic!.Properties.KmsMasterKeyId).toEqual({ Ref: 'AlarmTopicKey' });
    const key = resources.AlarmTopicKey!;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const statements = key.Properties.KeyPolicy.Statement as (Statement & { Principal: Record<string, unknown> })[];
    const cloudwatch = statements.filter((s) => JSON.stringify(s.Principal).includes('cloudwatch.amazonaws.com'));
    expect(cloudwatch).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
      },
    ]);
    // Nothing else but the account itself (which delegates to IAM) is named in the key policy.
    const others = statements.filter((s) => s !== cloudwatch[0]);
    expect(others.map((s) => s.Principal)).toEqual([{ AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } }]);
  });

  it('tells the functions the secrets path their roles may read, the role names they may assume and how callers sign in, so the configuration is checked against them', () => {
    for (const f of ofType('AWS::Lambda::Function')) {
      expect(f.Properties.Environment.Variables).toMatchObject({
        ROLEGATE_SECRETS_PATH: 'rolegate',
        ROLEGATE_PROVISIONER_ROLE_NAME: 'rolegate-provisioner',
        ROLEGATE_IDENTITY_ROLE_NAME: 'rolegate-identity-granter',
        ROLEGATE_AUTH: 'iam',
      });
    }
    const assumable = statementsOf('ApiRole').find((s) => actionsOf(s).includes('sts:AssumeRole'))!.Resource;
    expect(assumable).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/rolegate-provisioner' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/rolegate-identity-granter' },
    ]);
    const ssm = (role: string) => statementsOf(role).filter((s) => actionsOf(s).includes('ssm:GetParameter')).map((s) => s.Resource);
    expect(ssm('WorkerRole')).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/rolegate/*' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/rolegate/slack/signing-secret*' },
    ]);
    // The second is a Deny: the worker sends to Slack with the bot token and never reads the signing secret.
    expect(statementsOf('WorkerRole').filter((s) => actionsOf(s).includes('ssm:GetParameter')).map((s) => s.Effect)).toEqual(['Allow', 'Deny']);
    expect(ssm('SlackRole')).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/rolegate/slack/*' }]);
  });

  it('gives the API function room for a revoke\'s lease wait and one bounded IAM attempt, under API Gateway\'s 30 s', () => {
    const api = Object.entries(resources).find(([name, r]) => r.Type === 'AWS::Lambda::Function' && name.startsWith('Api'))![1];
    // withinRun starts no attempt with less than ATTEMPT_MAX_MS + RUN_MARGIN_MS left: below that, every revoke would end OutOfTime.
    const waitMs = INTERACTIVE_LEASE_ATTEMPTS * 500;
    expect(api.Properties.Timeout * 1000).toBeGreaterThanOrEqual(waitMs + ATTEMPT_MAX_MS + RUN_MARGIN_MS);
    expect(api.Properties.Timeout).toBeLessThan(30);
  });

  it('ships the configuration file inside the functions and points them at it', () => {
    for (const f of ofType('AWS::Lambda::Function')) expect(f.Properties.Environment.Variables.ROLEGATE_CONFIG).toBe('./config/rolegate.example.yaml');
  });

  it('ships in every package, beside the file, the copy packaging validated against this stack and code, and points the functions at it', async () => {
    for (const f of ofType('AWS::Lambda::Function')) expect(f.Properties.Environment.Variables.ROLEGATE_VALIDATED_CONFIG).toBe('./.rolegate/validated-config.json');
    expect(readdirSync(packages).sort()).toEqual(['api.zip', 'reconciler.zip', 'slack.zip', 'sweeper.zip', 'worker.zip']);
    for (const zip of readdirSync(packages)) {
      const root = join(packages, zip.replace(/\.zip$/, ''));
      const files = await unzip(join(packages, zip), root);
      expect(files).toEqual(expect.arrayContaining(['config/rolegate.example.yaml', '.rolegate/validated-config.json']));
      const shipped = readFileSync(join(root, 'config', 'rolegate.example.yaml'), 'utf8');
      const copy = JSON.parse(readFileSync(join(root, '.rolegate', 'validated-config.json'), 'utf8'));
      expect({ zip, sha: copy.sourceSha256, code: copy.code }).toEqual({ zip, sha: createHash('sha256').update(shipped, 'utf8').digest('hex'), code: deploymentCode() });
      expect(copy).toStrictEqual(validatedConfig(join(root, 'config', 'rolegate.example.yaml'), {}, deploymentCode()));
    }
  });

  it('gives each function a package of its own code: its entry and chunks, every file they import, and no other function\'s', async () => {
    for (const zip of readdirSync(packages).filter((f) => f.endsWith('.zip'))) {
      const name = zip.replace(/\.zip$/, '');
      const root = join(packages, `${name}-own`);
      const code = (await unzip(join(packages, zip), root)).filter((f) => f.endsWith('.mjs'));
      expect({ zip, others: code.filter((f) => !f.startsWith(`src/handlers/${name}.`)) }).toEqual({ zip, others: [] });
      // Every file a module of the package imports, statically or when first needed, is in it.
      const imported = code.flatMap((f) => [...readFileSync(join(root, f), 'utf8').matchAll(/["']\.\/([^"']+\.mjs)["']/g)].map((m) => `src/handlers/${m[1]}`));
      expect(imported.length).toBeGreaterThan(code.length);
      expect({ zip, missing: [...new Set(imported)].filter((f) => !code.includes(f)) }).toEqual({ zip, missing: [] });
    }
  });

  it('the packaged api, unzipped and run as Lambda runs it (its directory, its environment), loads the copy and answers', async () => {
    const root = join(packages, 'api-as-deployed');
    await unzip(join(packages, 'api.zip'), root);
    const fn = Object.entries(resources).find(([name, r]) => r.Type === 'AWS::Lambda::Function' && name.startsWith('Api'))![1];
    const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
    // The table's name is a CloudFormation reference until deployed.
    const env = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, typeof v === 'string' ? v : 'rolegate-ci']));
    const [file, exported] = (fn.Properties.Handler as string).split('.') as [string, string];

    const run = callBuiltHandler(join(root, `${file}.mjs`), exported, apiEvent({ method: 'GET', path: '/catalog', caller: ARN.alice }), { cwd: root, env: { ...env, AWS_LAMBDA_FUNCTION_NAME: 'rolegate-ci-api', AWS_REGION: 'eu-west-1' } });

    expect({ status: run.status, statusCode: run.result?.statusCode }).toEqual({ status: 0, statusCode: 200 });
    expect((JSON.parse(run.result!.body) as { entries: unknown[] }).entries.length).toBeGreaterThan(0);
    // Passing the copy over is a warning; loading it says nothing.
    expect(run.output).not.toContain('validated copy');
  }, 60_000);
});

/** A configuration file of the project's own (packaging ships only files under the service), removed afterwards. */
function withConfig<T>(text: string, work: (file: string) => T): T {
  const file = join('config', `.test-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(join(ROOT, file), text);
  try {
    return work(file);
  } finally {
    rmSync(join(ROOT, file), { force: true });
  }
}

const EXAMPLE = readFileSync(join(ROOT, 'config', 'rolegate.example.yaml'), 'utf8');

describe('the deployment template with OIDC sign-in (--param auth=jwt)', () => {
  it('puts a JWT authorizer with the issuer and audience on every route but the public and Slack ones', () => {
    const oidc = `${EXAMPLE}\noidc:\n  issuer: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc\n  audience: [client123]\n  principals: { alice@example.com: 'arn:aws:iam::111111111111:user/alice' }\n`;
    const { Resources: resources } = withConfig(oidc, (file) =>
      packageTemplate([`--param=configFile=${file}`, '--param=auth=jwt', '--param=oidcIssuer=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc', '--param=oidcAudience=client123']),
    );
    const authorizers = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers.map((a) => a.Properties)).toEqual([
      expect.objectContaining({ AuthorizerType: 'JWT', IdentitySource: ['$request.header.Authorization'], JwtConfiguration: { Audience: ['client123'], Issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc' } }),
    ]);
    const types = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => `${r.Properties.RouteKey} ${r.Properties.AuthorizationType ?? 'NONE'}`);
    for (const route of routes) expect(types).toContain(`${route.method} ${route.path} ${route.public ? 'NONE' : 'JWT'}`);
  }, 120_000);
});

it('with organizationId, lets every role assume provisioner and identity roles only in accounts of that organisation', () => {
  const template = packageTemplate(['--param=organizationId=o-a1b2c3d4e5']);
  const assumeStatements = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Role')
    .flatMap((r) => ((r.Properties.Policies ?? []) as { PolicyDocument: { Statement: { Action: unknown; Condition?: unknown }[] } }[]).flatMap((p) => p.PolicyDocument.Statement))
    .filter((st) => [st.Action].flat().includes('sts:AssumeRole'));
  expect(assumeStatements).toHaveLength(4);
  for (const st of assumeStatements) expect(st.Condition).toEqual({ 'Fn::If': ['InOneOrganization', { StringEquals: { 'aws:ResourceOrgID': 'o-a1b2c3d4e5' } }, { Ref: 'AWS::NoValue' }] });
  expect(template.Conditions).toEqual({ InOneOrganization: { 'Fn::Not': [{ 'Fn::Equals': ['o-a1b2c3d4e5', ''] }] } });
}, 120_000);

describe('packaging checks the configuration first', () => {
  const refusal = (params: string[], options?: { exampleConfig: boolean }): string => {
    try {
      packageTemplate(params, undefined, options);
    } catch (e) {
      return String((e as { stdout?: Buffer }).stdout ?? '') + String((e as { stderr?: Buffer }).stderr ?? '');
    }
    throw new Error('serverless package succeeded');
  };

  it('refuses a configuration the functions would refuse at cold start, against the params given on the command line', () => {
    // A copy an earlier package validated must not ship with a configuration refused since.
    const copy = join(ROOT, '.rolegate', 'validated-config.json');
    mkdirSync(dirname(copy), { recursive: true });
    writeFileSync(copy, '{}');
    // Valid against the defaults; with auth=jwt the configuration must map OIDC sign-ins.
    expect(refusal(['--param=auth=jwt', '--param=oidcIssuer=https://issuer.example.com', '--param=oidcAudience=c'])).toContain(
      'oidc: is required: the stack signs callers in with OIDC (auth=jwt), and only oidc.principals maps a token to a principal',
    );
    // aws mode with identity grants but no identity-granter role to act through.
    const broken = EXAMPLE.replace(/^  mode: dry-run$/m, '  mode: aws');
    expect(broken).not.toBe(EXAMPLE);
    expect(withConfig(broken, (file) => refusal([`--param=configFile=${file}`]))).toMatch(
      /Not packaged: the configuration is not valid for this stack \(stage ci\)[\s\S]*provisioner\.identityRoleArn: is required with identityGrants in aws mode/,
    );
    expect(existsSync(copy)).toBe(false);
    // A stack deployed to a region of another partition than the configuration's.
    expect(refusal(['--region', 'us-gov-west-1'])).toContain('partition: is aws, but the stack deploys to us-gov-west-1, a region of aws-us-gov');
    // An organizationId that is not one would have every AssumeRole refused once deployed.
    expect(refusal(['--param=organizationId=123456789012'])).toContain('Not packaged: organizationId "123456789012" is not an AWS Organizations id');
    // A stage other than dev that names no file: the example (dry-run, made-up accounts) must not ship to it.
    expect(refusal([], { exampleConfig: false })).toContain(
      'Not packaged: stage ci names no configuration file. Give yours: --param="configFile=config/<your-org>.yaml" (only stage dev falls back on the example, which is dry-run with made-up accounts).',
    );
  }, 120_000);
});

describe('the OpenAPI document', () => {
  it('is committed as generated from the route table (npm run openapi)', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(openApiDocument(routes, version))));
  });

  it('documents every route and only existing routes, as OpenAPI 3.1 with resolvable references', () => {
    const doc = openApiDocument(routes, version) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    expect(documented).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)].map((m) => [m[1]!, m[2]!] as const);
    expect(new Set(refs.map(([kind]) => kind))).toEqual(new Set(['schemas', 'headers', 'parameters']));
    for (const [kind, name] of refs) expect({ ref: `${kind}/${name}`, defined: doc.components[kind]?.[name] !== undefined }).toEqual({ ref: `${kind}/${name}`, defined: true });
    const create = doc.paths['/requests']!.post as { requestBody: { content: { 'application/json': { schema: { additionalProperties: boolean; required: string[] } } } } };
    expect(create.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
    expect(create.requestBody.content['application/json'].schema.required.sort()).toEqual(['durationMinutes', 'profile', 'reason']);
  });

  it('names the success bodies as components, strict like the requests, and gives a created request its Location', () => {
    type Op = { responses: Record<string, { headers?: Record<string, unknown>; content: { 'application/json': { schema: { $ref?: string } } } }> };
    const doc = openApiDocument(routes, version) as { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, { additionalProperties?: boolean; required?: string[]; properties?: Record<string, unknown> }> } };
    const success = (method: string, path: string, status: string) => doc.paths[path]![method]!.responses[status]!;
    expect(success('post', '/requests', '201').content['application/json'].schema).toEqual({ $ref: '#/components/schemas/RequestReply' });
    expect(Object.keys(success('post', '/requests', '201').headers!)).toEqual(['Location', 'x-correlation-id']);
    expect(Object.keys(success('post', '/requests/{id}/extend', '201').headers!)).toEqual(['Location', 'x-correlation-id']);
    expect(success('post', '/requests/{id}/approve', '200').headers).toEqual({ 'x-correlation-id': { $ref: '#/components/headers/CorrelationId' } });
    expect(success('get', '/requests', '200').content['application/json'].schema).toEqual({ $ref: '#/components/schemas/RequestPage' });
    expect(success('get', '/requests/{id}', '200').content['application/json'].schema).toEqual({ $ref: '#/components/schemas/RequestDetail' });
    expect(success('get', '/catalog', '200').content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Catalog' });
    const request = doc.components.schemas.AccessRequest!;
    expect(request.additionalProperties).toBe(false);
    expect(request.required).toEqual(expect.arrayContaining(['id', 'version', 'status', 'requester', 'principalArn', 'accountId', 'profile', 'createdAt', 'decisionDeadline']));
    expect(request.required).not.toContain('access');
    expect(request.properties!.access).toEqual({ $ref: '#/components/schemas/AccessDetails' });
  });

  it("lets a 401, 403 or 500 be API Gateway's own {message} answer as well as rolegate's Error, a 429 or 503 only API Gateway's, and nothing else", () => {
    type Op = { responses: Record<string, { content: { 'application/json': { schema: unknown } } }> };
    const doc = openApiDocument(routes, version) as { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> } };
    const error = { $ref: '#/components/schemas/Error' };
    const gateway = { $ref: '#/components/schemas/GatewayError' };
    const either = { anyOf: [error, gateway] };
    const schemaOf = (status: string) => doc.paths['/requests/{id}']!.get!.responses[status]!.content['application/json'].schema;
    expect([schemaOf('401'), schemaOf('403'), schemaOf('500')]).toEqual([either, either, either]);
    expect([schemaOf('400'), schemaOf('404')]).toEqual([error, error]);
    expect([schemaOf('429'), schemaOf('503')]).toEqual([gateway, gateway]);
    expect(doc.components.schemas.GatewayError).toEqual({
      type: 'object',
      required: ['message'],
      properties: { message: { type: 'string', examples: ['Forbidden', 'Unauthorized', 'Not Found', 'Too Many Requests', 'Service Unavailable', 'Internal Server Error'] } },
      description: expect.stringContaining("API Gateway's own answer"),
    });
    // Every operation, public ones too: API Gateway throttles and times out any route.
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect({ op: `${method} ${path}`, 429: op.responses['429']?.content['application/json'].schema, 503: op.responses['503']?.content['application/json'].schema }).toEqual({ op: `${method} ${path}`, 429: gateway, 503: gateway });
        expect({ op: `${method} ${path}`, 500: op.responses['500']!.content['application/json'].schema }).toEqual({ op: `${method} ${path}`, 500: either });
      }
    }
    // An HTTP API answers a timeout with 503, never 504; an unknown route or method with its own 404 (info), never a 405.
    const statuses = new Set(Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((op) => Object.keys(op.responses))));
    expect([statuses.has('504'), statuses.has('405')]).toEqual([false, false]);
    expect((doc as unknown as { info: { description: string } }).info.description).toContain('A route or method this document does not name is answered by API Gateway itself: 404 {"message": "Not Found"}.');
  });

  it('lists in the Error schema exactly the codes a deployed rolegate answers: no local-only route codes, no CONFIG_INVALID (an opaque INTERNAL)', () => {
    const doc = openApiDocument(routes, version) as { components: { schemas: { Error: { properties: { error: unknown } } } } };
    expect(doc.components.schemas.Error.properties.error).toEqual({
      type: 'string',
      enum: ['VALIDATION_FAILED', 'INVALID_JSON', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'GRANT_BUSY', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'PROVISIONING_FAILED', 'INTERNAL'],
      description: 'Stable error code',
    });
    // Built from the code: every code errors.ts maps reaches the enum unless it is opaque or local-only.
    expect([...answeredCodes(), ...OPAQUE_CODES, ...LOCAL_ONLY_CODES].sort()).toEqual([...Object.keys(STATUS_BY_CODE), 'INTERNAL'].sort());
  });

  it('types every count, version and duration of a reply as an integer, and no field as a mere number', () => {
    type Props = Record<string, { type?: string; properties?: Record<string, { type?: string }> }>;
    const doc = openApiDocument(routes, version) as { components: { schemas: Record<string, { properties: Props }> } };
    const request = doc.components.schemas.AccessRequest!.properties;
    const entry = doc.components.schemas.CatalogEntry!.properties;
    expect({
      version: request.version!.type,
      durationMinutes: request.durationMinutes!.type,
      approvalsRequired: request.approvalsRequired!.type,
      provisioningAttempts: request.provisioningAttempts!.type,
      'sweepRetry.attempts': request.sweepRetry!.properties!.attempts!.type,
      maxDurationMinutes: entry.maxDurationMinutes!.type,
      'catalog approvalsRequired': entry.approvalsRequired!.type,
    }).toEqual({
      version: 'integer',
      durationMinutes: 'integer',
      approvalsRequired: 'integer',
      provisioningAttempts: 'integer',
      'sweepRetry.attempts': 'integer',
      maxDurationMinutes: 'integer',
      'catalog approvalsRequired': 'integer',
    });
    expect(JSON.stringify(doc)).not.toContain('"type":"number"');
  });

  it('names each operation with an identifier a client generator can use: method and path in camelCase, letters and digits only', () => {
    const doc = openApiDocument(routes, version) as { paths: Record<string, Record<string, { operationId: string }>> };
    const ids = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op.operationId]));
    expect(Object.fromEntries(ids)).toEqual({
      'GET /health': 'getHealth',
      'GET /openapi.json': 'getOpenapiJson',
      'GET /catalog': 'getCatalog',
      'POST /requests': 'postRequests',
      'GET /requests': 'getRequests',
      'GET /requests/{id}': 'getRequestsById',
      'POST /requests/{id}/approve': 'postRequestsByIdApprove',
      'POST /requests/{id}/deny': 'postRequestsByIdDeny',
      'POST /requests/{id}/cancel': 'postRequestsByIdCancel',
      'POST /requests/{id}/revoke': 'postRequestsByIdRevoke',
      'POST /requests/{id}/retry': 'postRequestsByIdRetry',
      'POST /requests/{id}/extend': 'postRequestsByIdExtend',
    });
    for (const [, id] of ids) expect(id).toMatch(/^[a-z][A-Za-z0-9]*$/);
  });

  it('says a new request names exactly one of account or accountId, as the validation decides', () => {
    type Body = { oneOf: { required: string[] }[] };
    const doc = openApiDocument(routes, version) as { paths: Record<string, Record<string, { requestBody: { content: { 'application/json': { schema: Body } } } }>> };
    const schema = doc.paths['/requests']!.post!.requestBody.content['application/json'].schema;
    expect(schema.oneOf).toEqual([{ required: ['account'] }, { required: ['accountId'] }]);
    // The document's rule (exactly one branch's required fields present) and the validation agree on every combination.
    const base = { profile: 'ReadOnly', durationMinutes: 60, reason: 'look' };
    const bodies = [base, { ...base, account: 'production' }, { ...base, accountId: '111111111111' }, { ...base, account: 'production', accountId: '111111111111' }];
    const byDocument = bodies.map((body) => schema.oneOf.filter((branch) => branch.required.every((field) => field in body)).length === 1);
    const byValidation = bodies.map((body) => createRequestBody.safeParse(body).success);
    expect(byDocument).toEqual([false, true, true, false]);
    expect(byValidation).toEqual(byDocument);
  });

  it('documents x-correlation-id as an optional request header of every operation and a header of every reply rolegate gives', () => {
    type Op = { parameters: unknown[]; responses: Record<string, { headers?: Record<string, unknown> }> };
    const doc = openApiDocument(routes, version) as { paths: Record<string, Record<string, Op>>; components: { headers: Record<string, unknown>; parameters: Record<string, unknown> } };
    expect(doc.components.parameters).toEqual({
      CorrelationId: { name: 'x-correlation-id', in: 'header', required: false, description: expect.stringContaining('ignored, not refused'), schema: { type: 'string', pattern: '^[A-Za-z0-9-]{8,64}$' } },
    });
    expect(doc.components.headers).toEqual({
      CorrelationId: { description: expect.stringContaining("API Gateway's request id"), required: true, schema: { type: 'string' } },
      CorrelationIdUnlessGateway: { description: expect.stringContaining('Absent when API Gateway answered itself.'), required: false, schema: { type: 'string' } },
    });
    const always = { $ref: '#/components/headers/CorrelationId' };
    const unlessGateway = { $ref: '#/components/headers/CorrelationIdUnlessGateway' };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect({ op: `${method} ${path}`, parameter: op.parameters.at(-1) }).toEqual({ op: `${method} ${path}`, parameter: { $ref: '#/components/parameters/CorrelationId' } });
        // Required where only rolegate answers, optional where API Gateway may have answered instead, absent where only it does.
        const expected = Object.fromEntries(
          Object.keys(op.responses).map((status) => [status, ['429', '503'].includes(status) ? undefined : ['401', '403', '500'].includes(status) ? unlessGateway : always]),
        );
        const documented = Object.fromEntries(Object.entries(op.responses).map(([status, r]) => [status, r.headers?.['x-correlation-id']]));
        expect({ op: `${method} ${path}`, documented }).toEqual({ op: `${method} ${path}`, documented: expected });
      }
    }
  });

  it("lists for each operation the statuses it can answer, not one list for all (the fuzzing suite checks what it sees against them)", () => {
    const doc = openApiDocument(routes, version) as { paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>; security: unknown[] };
    const statuses = (method: string, path: string) => Object.keys(doc.paths[path]![method]!.responses).sort();
    expect(statuses('get', '/health')).toEqual(['200', '400', '429', '500', '503']);
    expect(statuses('get', '/catalog')).toEqual(['200', '400', '401', '403', '429', '500', '503']);
    expect(statuses('get', '/requests/{id}')).toEqual(['200', '400', '401', '403', '404', '429', '500', '503']);
    expect(statuses('post', '/requests')).toEqual(['201', '400', '401', '403', '404', '409', '413', '415', '429', '500', '503']);
    // Only revoke changes AWS while the caller waits, so only it can answer 502.
    expect(statuses('post', '/requests/{id}/revoke')).toEqual(['200', '400', '401', '403', '404', '409', '413', '415', '429', '500', '502', '503']);
    expect(Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => '502' in op.responses).map(([m]) => `${m} ${path}`))).toEqual(['post /requests/{id}/revoke']);
    // GRANT_BUSY (and its Retry-After) only where a grant's lease is waited for: revoke.
    const conflicts = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => '409' in op.responses).map(([m, op]) => [`${m} ${path}`, op.responses['409'] as { description: string; headers: object }] as const));
    expect(conflicts.filter(([, r]) => r.description.includes('GRANT_BUSY')).map(([op]) => op)).toEqual(['post /requests/{id}/revoke']);
    expect(conflicts.filter(([, r]) => 'Retry-After' in r.headers).map(([op, r]) => [op, Object.keys(r.headers)])).toEqual([['post /requests/{id}/revoke', ['x-correlation-id', 'Retry-After']]]);
    // Either sign-in a stack may be deployed with; the public routes need none.
    expect(doc.security).toEqual([{ sigv4: [] }, { oidc: [] }]);
    expect(doc.paths['/health']!.get!.security).toEqual([]);
  });
});
