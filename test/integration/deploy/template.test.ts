import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { routes } from '../../../src/handlers/http/routes';
import { openApiDocument } from '../../../src/handlers/http/openapi';
import { version } from '../../../package.json';

const ROOT = join(__dirname, '..', '..', '..');

type Resource = { Type: string; Properties: Record<string, any> };

/** `serverless package` with the open-source CLI (osls), no AWS credentials, as CI runs it. */
function packageTemplate(params: string[] = []): Record<string, Resource> {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-sls-'));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AWS_')) delete env[k];
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'ci', '--package', dir, ...params], { cwd: ROOT, env, stdio: 'pipe' });
    return JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')).Resources;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the deployment template (serverless package)', () => {
  let resources: Record<string, Resource>;
  beforeAll(() => {
    resources = packageTemplate();
  }, 120_000);
  const ofType = (type: string) => Object.values(resources).filter((r) => r.Type === type);

  it('declares exactly the routes of the route table, all IAM-authorized but health and the OpenAPI document', () => {
    const declared = ofType('AWS::ApiGatewayV2::Route').map((r) => `${r.Properties.RouteKey} ${r.Properties.AuthorizationType ?? 'NONE'}`).sort();
    // Slack's two endpoints carry no IAM auth: Slack signs every call and the function verifies it.
    const expected = [...routes.map((r) => `${r.method} ${r.path} ${r.public ? 'NONE' : 'AWS_IAM'}`), 'POST /slack/commands NONE', 'POST /slack/interactions NONE'].sort();
    expect(declared).toEqual(expected);
  });

  it('has the table with its keys, three GSIs, stream, point-in-time recovery and deletion protection', () => {
    const table = resources.RolegateTable!;
    expect((table as unknown as { DeletionPolicy: string }).DeletionPolicy).toBe('Retain');
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.Properties.GlobalSecondaryIndexes.map((g: { IndexName: string }) => g.IndexName)).toEqual(['byStatus', 'byPrincipal', 'byDue']);
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
  });

  it('gives each function its own role, with no wildcard action and no bare wildcard resource', () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns.map((f) => f.Properties.Runtime)).toEqual(Array(fns.length).fill('nodejs22.x'));
    // The HTTP API never gets the worker's stream and queue permissions.
    expect(resources.ApiLambdaFunction!.Properties.Role).toEqual({ 'Fn::GetAtt': ['ApiRole', 'Arn'] });
    expect(resources.SlackLambdaFunction!.Properties.Role).toEqual({ 'Fn::GetAtt': ['SlackRole', 'Arn'] });
    for (const name of ['WorkerLambdaFunction', 'SweeperLambdaFunction', 'ReconcilerLambdaFunction']) expect(resources[name]!.Properties.Role).toEqual({ 'Fn::GetAtt': ['WorkerRole', 'Arn'] });
    for (const role of [resources.ApiRole!, resources.SlackRole!, resources.WorkerRole!]) {
      for (const statement of role.Properties.Policies[0].PolicyDocument.Statement) {
        const actions = [statement.Action].flat();
        expect(actions.every((a: string) => !a.includes('*'))).toBe(true);
        expect([statement.Resource].flat()).not.toContain('*');
      }
    }
    const apiActions = resources.ApiRole!.Properties.Policies[0].PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    expect(apiActions).not.toContain('dynamodb:Scan');
    expect(apiActions.some((a: string) => a.startsWith('iam:'))).toBe(false);
    // Notifications go out from the worker: the API reads no secret.
    expect(apiActions).not.toContain('ssm:GetParameter');
  });

  it('lets the internet-facing Slack function write only Slack job items and read only the Slack secrets', () => {
    const statements = resources.SlackRole!.Properties.Policies[0].PolicyDocument.Statement;
    expect(statements.map((s: { Action: string | string[] }) => s.Action)).toEqual(['dynamodb:PutItem', 'ssm:GetParameter', ['logs:CreateLogStream', 'logs:PutLogEvents']]);
    expect(statements[0]).toEqual({
      Effect: 'Allow',
      Action: 'dynamodb:PutItem',
      Resource: { 'Fn::GetAtt': ['RolegateTable', 'Arn'] },
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SLACKJOB#*'] } },
    });
    expect(statements[1].Resource).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/rolegate/slack/*' });
    expect(JSON.stringify(statements)).not.toContain('sts:');
  });

  it('alarms on worker, sweeper and API errors, dead letters, provisioning and expiry failures and drift, to one topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms.map((a) => `${a.Properties.Namespace}/${a.Properties.MetricName}`).sort()).toEqual([
      'AWS/Lambda/Errors',
      'AWS/Lambda/Errors',
      'AWS/Lambda/Errors',
      'AWS/SQS/ApproximateNumberOfMessagesVisible',
      'rolegate/DriftFound',
      'rolegate/ExpiryFailed',
      'rolegate/ProvisioningFailed',
    ]);
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('ships the configuration file inside the functions and points them at it', () => {
    for (const f of ofType('AWS::Lambda::Function')) expect(f.Properties.Environment.Variables.ROLEGATE_CONFIG).toBe('./config/rolegate.example.yaml');
  });
});

describe('the deployment template with OIDC sign-in (--param auth=jwt)', () => {
  it('puts a JWT authorizer with the issuer and audience on every route but the public and Slack ones', () => {
    const resources = packageTemplate(['--param=auth=jwt', '--param=oidcIssuer=https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc', '--param=oidcAudience=client123']);
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

describe('the OpenAPI document', () => {
  it('is committed as generated from the route table (npm run openapi)', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(openApiDocument(routes, version))));
  });

  it('documents every route and only existing routes, as OpenAPI 3.1 with resolvable references', () => {
    const doc = openApiDocument(routes, version) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
    expect(documented).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    for (const ref of refs) expect(doc.components.schemas[ref]).toBeDefined();
    const create = doc.paths['/requests']!.post as { requestBody: { content: { 'application/json': { schema: { additionalProperties: boolean; required: string[] } } } } };
    expect(create.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
    expect(create.requestBody.content['application/json'].schema.required.sort()).toEqual(['durationMinutes', 'profile', 'reason']);
  });
});
