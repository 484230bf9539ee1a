import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import type { HttpEvent, HttpResult } from '../../../src/handlers/http/types';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { identityPolicyName } from '../../../src/adapters/aws/identity-granter';
import { apiEvent, assertDocumented, lambdaContext } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * The api function's own entry point (src/handlers/api.ts), as Lambda loads
 * it: composed from its environment (the configuration file, the table on
 * the DynamoDB Local engine, IAM and STS clients of its own, mocked here), so
 * what the other tests build by hand is checked as deployed. A revoke runs
 * within the invocation: no STS or IAM attempt starts that could outlast it.
 */

const stsMock = mockClient(STSClient);
const iamMock = mockClient(IAMClient);

const SETTINGS = settingsWith((doc) => {
  Object.assign(doc.provisioner as Record<string, unknown>, {
    mode: 'aws',
    identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter',
    identityExternalId: 'rolegate-identity-5b1e',
  });
});

const ENV_KEYS = ['ROLEGATE_CONFIG', 'ROLEGATE_TABLE', 'ROLEGATE_DYNAMODB_ENDPOINT', 'ROLEGATE_STAGE', 'ROLEGATE_LOG_LEVEL', 'AWS_REGION', 'AWS_LAMBDA_FUNCTION_NAME'] as const;

let h: Harness;
let dir: string;
let saved: Record<string, string | undefined>;
let handler: (event: HttpEvent, context: Context) => Promise<HttpResult>;
/** What the functions write to stdout (EMF metrics) and to stderr, kept from the test's output. */
let written: string[];
let warned: string[];

beforeAll(async () => {
  // The records the entry reads are written with the system clock it runs on.
  h = await harness({ settings: SETTINGS });
  h.clock.set(new Date().toISOString());
  dir = mkdtempSync(join(tmpdir(), 'rolegate-entry-'));
  writeFileSync(join(dir, 'rolegate.json'), JSON.stringify(SETTINGS));
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  Object.assign(process.env, {
    ROLEGATE_CONFIG: join(dir, 'rolegate.json'),
    ROLEGATE_TABLE: h.tableName,
    ROLEGATE_DYNAMODB_ENDPOINT: process.env.ROLEGATE_TEST_DYNAMODB_ENDPOINT,
    ROLEGATE_STAGE: 'test',
    ROLEGATE_LOG_LEVEL: 'CRITICAL',
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: 'rolegate-test-api',
  });
  // Loaded once the environment is set, as Lambda does (it composes at load). Not in jest.isolateModules: the
  // adapters it imports lazily would load outside the isolated registry, with error classes of their own.
  handler = (await import('../../../src/handlers/api')).handler;
});

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
  await h.close();
});

beforeEach(() => {
  stsMock.reset();
  iamMock.reset();
  written = [];
  warned = [];
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    warned.push(String(chunk));
    return true;
  });
});

afterEach(() => jest.restoreAllMocks());

/** The metric names of the EMF lines written so far. */
const metricsWritten = () => written.flatMap((w) => w.split('\n')).filter((l) => l.startsWith('{"_aws"')).flatMap((l) => JSON.parse(l)._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name));

/** Calls the entry as Lambda would, with `remainingMs` of the invocation left. */
async function invoke(input: Parameters<typeof apiEvent>[0], remainingMs: number) {
  const result = await handler(apiEvent(input), { ...lambdaContext(), getRemainingTimeInMillis: () => remainingMs });
  const body = result.body ? JSON.parse(result.body) : undefined;
  assertDocumented(input, result.statusCode, body);
  return { status: result.statusCode, body, headers: result.headers };
}

/** An ACTIVE staging grant for alice, provisioned by the test's own (recording) provisioner. */
async function activeRequest(): Promise<string> {
  const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'work' });
  expect((await provisionRequest(h.deps, r.id)).outcome).toBe('active');
  return r.id;
}

it('answers as the route table does, composed from its environment: the caller from the IAM authorizer, the table on the engine', async () => {
  const created = await invoke({ method: 'POST', path: '/requests', caller: ARN.alice, body: { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'entry' } }, 29_000);
  expect(created.status).toBe(201);
  expect(created.body.request).toMatchObject({ status: 'PENDING', requester: ARN.alice });
  expect(await h.requests.get(created.body.request.id)).toMatchObject({ status: 'PENDING', reason: 'entry' });
  // Each invocation flushes its metrics as it ends.
  expect(metricsWritten()).toEqual(['RequestCreated']);
  // The local header names nobody in a deployed function.
  expect((await invoke({ method: 'GET', path: '/catalog', headers: { 'x-rolegate-principal': ARN.alice } }, 29_000)).status).toBe(401);
});

it('writes no metrics and no warning for an invocation that counted nothing, and the EMF line for one that did', async () => {
  expect((await invoke({ method: 'GET', path: '/catalog', caller: ARN.alice }, 29_000)).status).toBe(200);
  expect({ written, warned }).toEqual({ written: [], warned: [] });
  expect((await invoke({ method: 'POST', path: '/requests', caller: ARN.alice, body: { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'counted' } }, 29_000)).status).toBe(201);
  expect(metricsWritten()).toEqual(['RequestCreated']);
  expect(warned).toEqual([]);
});

it('starts no STS or IAM call of a revoke that could outlast the invocation: the request stays live, and a repeat with time revokes it', async () => {
  const id = await activeRequest();
  stsMock.onAnyCommand().rejects(new Error('no call should be sent'));
  iamMock.onAnyCommand().rejects(new Error('no call should be sent'));

  // 15 s left: less than one bounded attempt and the margin the commit needs.
  const cut = await invoke({ method: 'POST', path: `/requests/${id}/revoke`, caller: ARN.alice, body: {} }, 15_000);

  expect(cut).toMatchObject({
    status: 502,
    body: { error: 'PROVISIONING_FAILED', message: `Request ${id} is not revoked: this call ran out of time before its next IAM change (IAM was slow or throttling). Repeat the revoke to finish it.` },
  });
  expect(stsMock.calls()).toHaveLength(0);
  expect(iamMock.calls()).toHaveLength(0);
  expect(await h.requests.get(id)).toMatchObject({ status: 'ACTIVE' });

  // With the API's whole 29 s, the repeat assumes the provisioner role and removes what IAM holds (here, nothing).
  stsMock.reset();
  iamMock.reset();
  stsMock.onAnyCommand().resolves({ Credentials: { AccessKeyId: 'ASIATEST', SecretAccessKey: 'secret', SessionToken: 'token', Expiration: new Date(Date.now() + 3_600_000) } });
  iamMock.onAnyCommand().rejects(Object.assign(new Error('The role cannot be found.'), { name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } }));
  const repeat = await invoke({ method: 'POST', path: `/requests/${id}/revoke`, caller: ARN.alice, body: {} }, 29_000);

  expect(repeat).toMatchObject({ status: 200, body: { request: { id, status: 'REVOKED' } } });
  // The staging account's provisioner role, with its ExternalId, and the identity granter; the grant's role looked for and
  // found gone, and alice's identity policy for it deleted.
  const { grantKey } = (await h.requests.get(id))!;
  expect(stsMock.calls().map((c) => [c.args[0].constructor.name, c.args[0].input])).toEqual([
    ['AssumeRoleCommand', expect.objectContaining({ RoleArn: 'arn:aws:iam::222222222222:role/rolegate-provisioner', ExternalId: 'rolegate-staging-7f3a', RoleSessionName: `rolegate-${id}` })],
    ['AssumeRoleCommand', expect.objectContaining({ RoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter', ExternalId: 'rolegate-identity-5b1e' })],
  ]);
  expect(iamMock.calls().map((c) => [c.args[0].constructor.name, c.args[0].input])).toEqual([
    ['GetRoleCommand', { RoleName: grantKey!.split('#')[1] }],
    ['DeleteUserPolicyCommand', { UserName: 'alice', PolicyName: identityPolicyName(grantKey!) }],
  ]);
  expect(await h.requests.get(id)).toMatchObject({ status: 'REVOKED' });
});
