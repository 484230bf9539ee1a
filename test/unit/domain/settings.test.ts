import { ConfigError } from '../../../src/domain/errors';
import { parseSettings } from '../../../src/config';
import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, load } from 'js-yaml';
import { EXAMPLE_CONFIG, exampleSettings } from '../../helpers/settings';

function invalidDoc(doc: unknown): ConfigError {
  try {
    parseSettings(doc);
  } catch (e) {
    return e as ConfigError;
  }
  throw new Error('expected the configuration to be refused');
}

it('needs each account\'s region in aws-cn and aws-us-gov, whose credentials the global STS endpoint refuses', () => {
  const doc = JSON.parse(JSON.stringify(exampleSettings()).replaceAll('arn:aws:', 'arn:aws-us-gov:'));
  doc.partition = 'aws-us-gov';
  doc.accounts[0].region = 'us-gov-west-1';
  expect(invalidDoc(doc).details).toEqual([
    { field: 'accounts.1.region', reason: "is required in partition aws-us-gov: the access's CLI profile must name the STS it asks, since the global endpoint refuses aws-us-gov credentials" },
  ]);
  doc.accounts[1].region = 'us-gov-east-1';
  expect(parseSettings(doc).accounts.map((a) => a.region)).toEqual(['us-gov-west-1', 'us-gov-east-1']);
});

it('tells a workload pattern only what is wrong with it: a wildcard account, or users', () => {
  const doc = JSON.parse(JSON.stringify(exampleSettings()));
  doc.rules[1].workloadPrincipals = ['arn:aws:iam::*:role/app', 'arn:aws:sts::111111111111:assumed-role/app/x', 'arn:aws:iam::111111111111:user/bob'];
  expect(invalidDoc(doc).details).toEqual([
    { field: 'rules.1.workloadPrincipals.0', reason: expect.stringMatching(/^must name its partition and account \(12 digits\) without wildcards/) },
    { field: 'rules.1.workloadPrincipals.1', reason: PATTERN_SHAPE },
    { field: 'rules.1.workloadPrincipals.2', reason: expect.stringMatching(/^must name roles/) },
  ]);
});

it('takes a plain http webhook only on this machine (a local receiver)', () => {
  const doc = JSON.parse(JSON.stringify(exampleSettings()));
  doc.webhooks = ['http://127.0.0.1:9000/hook', 'http://localhost/hook', 'https://hooks.example.com/x'].map((url) => ({ url, secretParameter: '/rolegate/webhooks/x' }));
  expect(parseSettings(doc).webhooks.map((w) => w.url)).toEqual(['http://127.0.0.1:9000/hook', 'http://localhost/hook', 'https://hooks.example.com/x']);
  doc.webhooks = [{ url: 'http://localhost.evil.example/hook', secretParameter: '/rolegate/webhooks/x' }];
  expect(invalidDoc(doc).details).toEqual([{ field: 'webhooks.0.url', reason: expect.stringMatching(/^must be https/) }]);
});

it('tells a session ARN given as a requester pattern that it is no IAM ARN, and only that', () => {
  const doc = JSON.parse(JSON.stringify(exampleSettings()));
  doc.rules[0].requesters = ['arn:aws:sts::111111111111:assumed-role/x/y'];
  expect(invalidDoc(doc).details).toEqual([{ field: 'rules.0.requesters.0', reason: PATTERN_SHAPE }]);
});

describe('inline policy conditions', () => {
  it('keeps every IAM condition form as written: set prefixes, IfExists, Null, lists, numbers and booleans', () => {
    const written = {
      'ForAnyValue:StringLikeIfExists': { 'aws:TagKeys': ['team-*', 'env'] },
      'ForAllValues:StringEquals': { 'aws:PrincipalTag/team': 'ops' },
      NumericLessThanEquals: { 's3:max-keys': 10 },
      Bool: { 'aws:SecureTransport': false },
      Null: { 'aws:RequestTag/owner': 'true' },
      NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] },
      ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/x' },
      StringEqualsIgnoreCase: { 'aws:ResourceTag/Cost Center': '42' },
    };
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    doc.profiles[1].inlinePolicy.Statement[0].Condition = written;
    expect(parseSettings(doc).profiles[1]!.inlinePolicy!.Statement[0]!.Condition).toEqual(written);
  });
});

function invalid(patch: (d: Record<string, any>) => void): ConfigError {
  const doc = JSON.parse(JSON.stringify(exampleSettings()));
  patch(doc);
  return invalidDoc(doc);
}

const WILDCARD_ACCOUNT =
  'must name its partition and account (12 digits) without wildcards: a wildcard account matches principals of every AWS account, outside your organisation too';
const PATTERN_SHAPE = 'must be an IAM user or role ARN, optionally with * or ? wildcards in its name (e.g. arn:aws:iam::111111111111:user/*)';
const POLICY_SHAPE = 'must be an IAM managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)';
const PARAMETER_REASON = 'must be an SSM parameter path with its leading slash (/rolegate/slack/bot-token), 2 to 15 levels, not under /aws/ or /ssm/';

describe('configuration validation', () => {
  it('accepts the example with its commented Slack section uncommented, and maps the Slack user', () => {
    const lines = readFileSync(EXAMPLE_CONFIG, 'utf8').split('\n');
    const start = lines.indexOf('# slack:');
    expect(start).toBeGreaterThan(0);
    const text = [...lines.slice(0, start), ...lines.slice(start).filter((l) => l.startsWith('# ')).map((l) => l.slice(2))].join('\n');
    const s = parseSettings(load(text, { schema: CORE_SCHEMA }));
    expect(s.slack).toEqual({
      users: { U0123ANNA: 'arn:aws:iam::111111111111:user/lead-anna' },
      teamIds: ['T0123ABCD'],
      signingSecretParameter: '/rolegate/slack/signing-secret',
      botTokenParameter: '/rolegate/slack/bot-token',
    });
  });

  it('maps a Slack user to an IAM user or role, or to an Identity Center session (which names the person), and refuses any other session', () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    const session = 'arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Lead_9f8e/Anna@Example.com';
    doc.slack = { users: { U0ANNA: session, U0BOB: 'arn:aws:iam::111111111111:user/bob' } };
    expect(parseSettings(doc).slack!.users).toEqual({ U0ANNA: session, U0BOB: 'arn:aws:iam::111111111111:user/bob' });
    doc.slack = { users: { U0ANNA: 'arn:aws:sts::111111111111:assumed-role/lead-anna/anna' } };
    expect(() => parseSettings(doc)).toThrow(
      'slack.users.U0ANNA: must be an IAM user or role ARN, or an Identity Center session ARN (arn:aws:sts::<account>:assumed-role/AWSReservedSSO_<set>_<id>/<user name>)',
    );
  });

  it('reads the Slack secrets from /rolegate/slack/ by default and accepts other names there (the signing secret under the name the worker is denied)', () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    doc.slack = { users: {} };
    expect(parseSettings(doc).slack).toMatchObject({ signingSecretParameter: '/rolegate/slack/signing-secret', botTokenParameter: '/rolegate/slack/bot-token' });
    doc.slack = { signingSecretParameter: '/rolegate/slack/signing-secret-prod', botTokenParameter: '/rolegate/slack/prod/bot' };
    doc.webhooks = [{ url: 'https://hooks.example.com/x', secretParameter: '/rolegate/webhooks/ops' }];
    expect(parseSettings(doc).slack).toMatchObject({ signingSecretParameter: '/rolegate/slack/signing-secret-prod', botTokenParameter: '/rolegate/slack/prod/bot' });
  });

  it("keeps the Slack signing secret where the worker's grant denies it, and what the worker reads out of there", () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    doc.slack = { signingSecretParameter: '/rolegate/slack/prod/signing', botTokenParameter: '/rolegate/slack/signing-secret-bot' };
    doc.webhooks = [
      { url: 'https://hooks.example.com/a', secretParameter: '/rolegate/slack/signing-secret/ops' },
      { url: 'https://hooks.example.com/b', secretParameter: '/rolegate/slack/hooks/ops' },
      { url: 'https://hooks.example.com/c', secretParameter: '/rolegate/slackish/ops' },
    ];
    expect(invalidDoc(doc).details).toEqual([
      { field: 'slack.signingSecretParameter', reason: "must start with /rolegate/slack/signing-secret: only the Slack function may read it, and the worker's grant denies names there only (secretsPath rolegate)" },
      { field: 'slack.botTokenParameter', reason: 'must not start with /rolegate/slack/signing-secret: the worker, which reads it, may never read names there (the Slack signing secret\'s)' },
      // A webhook's key out of the internet-facing Slack function's reach, which is all of slack/.
      { field: 'webhooks.0.secretParameter', reason: 'must not be under /rolegate/slack/: the Slack function, which faces the internet, may read names there' },
      { field: 'webhooks.1.secretParameter', reason: 'must not be under /rolegate/slack/: the Slack function, which faces the internet, may read names there' },
    ]);
  });

  it('refuses secret parameters outside the path the functions may read (IAM would refuse them when deployed)', () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    doc.slack = { signingSecretParameter: '/rolegate/slack/signing-secret', botTokenParameter: '/other/slack/bot' };
    doc.webhooks = [
      { url: 'https://hooks.example.com/a', secretParameter: '/rolegate/webhooks/a' },
      { url: 'https://hooks.example.com/b', secretParameter: '/shared/webhooks/b' },
    ];
    let error: ConfigError | undefined;
    try {
      parseSettings(doc);
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.details).toEqual([
      { field: 'slack.botTokenParameter', reason: 'must be under /rolegate/slack/: the Slack function may read only parameters there (secretsPath rolegate)' },
      { field: 'webhooks.1.secretParameter', reason: 'must be under /rolegate/: the worker may read only parameters there (secretsPath rolegate)' },
    ]);
    // Another stack's secretsPath moves the allowed place.
    doc.slack = { signingSecretParameter: '/rolegate-dev/slack/signing-secret', botTokenParameter: '/rolegate-dev/slack/bot' };
    doc.webhooks = [{ url: 'https://hooks.example.com/a', secretParameter: '/rolegate-dev/webhooks/a' }];
    expect(parseSettings(doc, 'configuration', { secretsPath: 'rolegate-dev' }).webhooks[0]!.secretParameter).toBe('/rolegate-dev/webhooks/a');
    expect(() => parseSettings(doc)).toThrow('must be under /rolegate/slack/');
    // Left out, the Slack secrets' names default under the stack's path.
    doc.slack = { users: {} };
    expect(parseSettings(doc, 'configuration', { secretsPath: 'rolegate-dev' }).slack).toMatchObject({
      signingSecretParameter: '/rolegate-dev/slack/signing-secret',
      botTokenParameter: '/rolegate-dev/slack/bot-token',
    });
  });

  it('refuses a stack secretsPath with a leading or trailing slash, which IAM would grant as a path no parameter has', () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    for (const bad of ['/acme/rolegate/', '/rolegate', 'rolegate/', 'acme//rolegate', '']) {
      let error: ConfigError | undefined;
      try {
        parseSettings(doc, 'configuration', { secretsPath: bad });
      } catch (e) {
        error = e as ConfigError;
      }
      expect(error?.details).toContainEqual({
        field: '(stack) secretsPath',
        reason: `must be a parameter path without leading or trailing slash, as rolegate or acme/rolegate (is ${JSON.stringify(bad)})`,
      });
    }
    expect(parseSettings(doc, 'configuration', { secretsPath: 'acme/rolegate' }).webhooks).toEqual([]);
  });

  it('refuses a configuration without oidc for a stack that signs callers in with OIDC (auth=jwt), where every call would be refused', () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    const refusal = (deployment: Record<string, string>) => {
      try {
        parseSettings(doc, 'configuration', deployment);
        return undefined;
      } catch (e) {
        return (e as ConfigError).details;
      }
    };
    expect(refusal({ auth: 'jwt' })).toEqual([{ field: 'oidc', reason: 'is required: the stack signs callers in with OIDC (auth=jwt), and only oidc.principals maps a token to a principal' }]);
    expect(refusal({ auth: 'cognito' })).toEqual([{ field: '(stack) auth', reason: 'must be iam or jwt (is "cognito")' }]);
    expect(refusal({ auth: 'iam' })).toBeUndefined();
    doc.oidc = { issuer: 'https://issuer.example.com', audience: ['rolegate'], principals: { 'alice@example.com': 'arn:aws:iam::111111111111:user/alice' } };
    expect(refusal({ auth: 'jwt' })).toBeUndefined();
  });

  it('refuses provisioner and identity roles the deployed functions could not assume', () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    doc.accounts[0].provisionerRoleArn = `arn:aws:iam::${doc.accounts[0].id}:role/ops/rolegate-provisioner`;
    doc.accounts[1].provisionerRoleArn = `arn:aws:iam::${doc.accounts[1].id}:role/my-provisioner`;
    doc.provisioner = { ...doc.provisioner, mode: 'aws', identityRoleArn: `arn:aws:iam::${doc.identityAccountId}:role/granter`, identityExternalId: 'x-123' };
    let error: ConfigError | undefined;
    try {
      parseSettings(doc);
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error!.details).toEqual([
      { field: 'accounts.0.provisionerRoleArn', reason: "must name the role rolegate-provisioner (no path): rolegate's functions may assume only that name (the stack's provisionerRoleName)" },
      { field: 'accounts.1.provisionerRoleArn', reason: "must name the role rolegate-provisioner (no path): rolegate's functions may assume only that name (the stack's provisionerRoleName)" },
      { field: 'provisioner.identityRoleArn', reason: "must name the role rolegate-identity-granter (no path): rolegate's functions may assume only that name (the stack's identityRoleName)" },
    ]);
    // A stack deployed with other names accepts them.
    doc.accounts[0].provisionerRoleArn = `arn:aws:iam::${doc.accounts[0].id}:role/my-provisioner`;
    expect(parseSettings(doc, 'configuration', { provisionerRoleName: 'my-provisioner', identityRoleName: 'granter' }).provisioner.identityRoleArn).toBe(`arn:aws:iam::${doc.identityAccountId}:role/granter`);
  });

  it('does not check an identity role that is not used (identity grants off, or dry-run)', () => {
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    doc.provisioner = { ...doc.provisioner, mode: 'dry-run', identityRoleArn: 'arn:aws:iam::999999999999:role/hand-made' };
    expect(parseSettings(doc).provisioner.identityRoleArn).toBe('arn:aws:iam::999999999999:role/hand-made');
    doc.provisioner = { ...doc.provisioner, mode: 'aws', identityGrants: false };
    expect(parseSettings(doc).provisioner.identityGrants).toBe(false);
    doc.provisioner.identityGrants = true;
    expect(() => parseSettings(doc)).toThrow('provisioner.identityRoleArn: must be a role of the identity account 111111111111');
  });

  // Refused when the configuration loads: otherwise the first grant of the profile fails on it, and so does every
  // rewrite of a role that live requests share (the undo of a failed request among them), which cannot then finish.
  it("refuses a profile whose inline policy IAM would refuse on every role: over 10,240 characters with rolegate's end of access, or characters outside Latin-1", () => {
    const withResource = (resource: string) => (d: Record<string, any>) => {
      d.profiles.find((p: { name: string }) => p.name === 'S3ReadOnly').inlinePolicy = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: resource }] };
    };
    // The document without its resource, plus the end-of-access statement rolegate appends: what is left of 10,240 is the resource's.
    const fixed = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::' }, { Sid: 'RolegateAccessEnds', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': '2000-01-01T00:00:00.000Z' } } }] }).length;
    const fits = JSON.parse(JSON.stringify(exampleSettings()));
    withResource('arn:aws:s3:::' + 'r'.repeat(10_240 - fixed))(fits);
    expect(() => parseSettings(fits)).not.toThrow();
    expect(invalid(withResource('arn:aws:s3:::' + 'r'.repeat(10_241 - fixed))).details).toEqual([
      { field: 'profiles.1.inlinePolicy', reason: "The role's inline policy (the profile's statements and rolegate's end of access) is 10241 characters without whitespace; IAM allows 10240 per role." },
    ]);
    // YAML anchors can build a statement that holds itself: refused as a configuration error, not a crash.
    const looped = invalid((d) => {
      const statement: Record<string, unknown> = { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' };
      statement.self = statement;
      d.profiles.find((p: { name: string }) => p.name === 'S3ReadOnly').inlinePolicy = { Version: '2012-10-17', Statement: [statement] };
    });
    expect(looped.details).toEqual([{ field: 'profiles.1.inlinePolicy.Statement.0.self', reason: 'refers to itself (a YAML anchor used inside itself): no JSON, and no policy, can hold it' }]);
    expect(invalid(withResource('arn:aws:s3:::reports→2026/*')).details).toEqual([
      { field: 'profiles.1.inlinePolicy', reason: "The profile's inline policy holds \"→\" (U+2192); IAM accepts only tab, line feed, carriage return and U+0020–U+00FF in policy documents." },
    ]);
  });

  it("refuses a rule granting a profile with more managed policies than an account it covers takes on one role (IAM's default quota 10, or the account's raised managedPoliciesPerRoleMax)", () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`);
    const patch = (raise?: number) => (d: Record<string, any>) => {
      d.profiles.find((p: { name: string }) => p.name === 'ReadOnly').managedPolicyArns = eleven;
      if (raise !== undefined) d.accounts.find((a: { alias: string }) => a.alias === 'staging').managedPoliciesPerRoleMax = raise;
    };
    // ReadOnly is granted by staging-self-service (staging) and production-read (production).
    expect(invalid(patch()).details).toEqual([
      { field: 'rules.0.profiles', reason: `grant profile "ReadOnly" in account staging: The profile attaches 11 managed policies; the account allows 10 per role (IAM's default quota: ask AWS to raise it (up to 20) and set the account's managedPoliciesPerRoleMax).` },
      { field: 'rules.1.profiles', reason: `grant profile "ReadOnly" in account production: The profile attaches 11 managed policies; the account allows 10 per role (IAM's default quota: ask AWS to raise it (up to 20) and set the account's managedPoliciesPerRoleMax).` },
    ]);
    expect(invalid(patch(11)).details).toEqual([expect.objectContaining({ field: 'rules.1.profiles' })]);
    // A rule for every account and profile covers them all, an account named twice (id and alias) once, and an ARN listed twice counts once.
    const everywhere = (d: Record<string, any>) => {
      patch()(d);
      d.rules = [{ ...d.rules[0], accounts: ['*'], profiles: ['*'] }, { ...d.rules[1], accounts: ['production', '333333333333'] }];
    };
    expect(invalid(everywhere).details!.map((x) => `${x.field} ${x.reason.split(':')[0]}`)).toEqual([
      'rules.0.profiles grant profile "ReadOnly" in account staging',
      'rules.0.profiles grant profile "ReadOnly" in account production',
      'rules.1.profiles grant profile "ReadOnly" in account production',
    ]);
    const twice = (d: Record<string, any>) => (d.profiles.find((p: { name: string }) => p.name === 'ReadOnly').managedPolicyArns = [...eleven.slice(0, 10), eleven[0]]);
    const doc = JSON.parse(JSON.stringify(exampleSettings()));
    twice(doc);
    expect(() => parseSettings(doc)).not.toThrow();
    expect(invalid((d) => (d.accounts[0].managedPoliciesPerRoleMax = 21)).details).toEqual([{ field: 'accounts.0.managedPoliciesPerRoleMax', reason: 'must be at most 20' }]);
    expect(exampleSettings().accounts.map((a) => a.managedPoliciesPerRoleMax)).toEqual([10, 10]);
  });

  it('accepts the shipped example with two accounts, three profiles and a two-approval rule', () => {
    const s = exampleSettings();
    expect(s.accounts).toHaveLength(2);
    expect(s.profiles).toHaveLength(3);
    expect(s.rules.some((r) => r.approvalsRequired === 2)).toBe(true);
  });

  it.each([
    ['an 11-digit account id', (d: any) => (d.accounts[0].id = '12345678901'), 'accounts.0.id', 'must be a 12-digit AWS account id'],
    ['an unknown field', (d: any) => (d.rules[0].aprovers = []), 'rules.0.aprovers', 'is not a known field'],
    ['a rule naming an unknown profile', (d: any) => (d.rules[1].profiles = ['Nope']), 'rules.1.profiles.0', 'unknown profile "Nope"'],
    ['a rule naming an unknown account', (d: any) => (d.rules[1].accounts = ['dev']), 'rules.1.accounts.0', 'unknown account "dev" (not an id or alias under accounts)'],
    ['a manual rule without approvers', (d: any) => (d.rules[1].approvers = []), 'rules.1.approvers', 'a rule that is not autoApprove needs at least one approver'],
    ['a duplicated alias', (d: any) => (d.accounts[1].alias = 'staging'), 'accounts.1.alias', 'alias "staging" is used twice'],
    ['identity grants without the identity account', (d: any) => delete d.identityAccountId, 'identityAccountId', 'is required with provisioner.identityGrants: identity policies go only on principals of that account'],
    [
      'identity grants in aws mode without a role to make them with',
      (d: any) => (d.provisioner.mode = 'aws'),
      'provisioner.identityRoleArn',
      "is required with identityGrants in aws mode: rolegate's own roles hold no IAM permission; deploy templates/identity-granter-role.yaml in the identity account (even if rolegate runs there) and name that role",
    ],
    ['a role path without its closing slash', (d: any) => (d.rolePaths = [{ roleName: 'AWSReservedSSO_*', path: '/aws-reserved/sso.amazonaws.com' }]), 'rolePaths.0.path', 'must be an IAM path below the root, starting and ending with / (e.g. /aws-reserved/sso.amazonaws.com/)'],
    ['a role path with a quote', (d: any) => (d.rolePaths = [{ roleName: 'Dev', path: '/a"b/' }]), 'rolePaths.0.path', 'must be an IAM path below the root, starting and ending with / (e.g. /aws-reserved/sso.amazonaws.com/)'],
    ['a role-name pattern with a slash', (d: any) => (d.rolePaths = [{ roleName: 'a/b', path: '/x/' }]), 'rolePaths.0.roleName', 'must be an IAM role name, optionally with * or ? wildcards'],
    [
      "a profile statement using rolegate's end-of-access Sid",
      (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Sid = 'RolegateAccessEnds'),
      'profiles.1.inlinePolicy',
      "the Sid RolegateAccessEnds is rolegate's own (the statement that ends the access)",
    ],
    ['an OIDC person for a claim no principal maps', (d: any) => (d.oidc = { issuer: 'https://login.example.com', audience: ['rolegate'], claim: 'sub', principals: { u1: 'arn:aws:iam::111111111111:user/alice' }, persons: { u2: 'alice' } }), 'oidc.persons.u2', 'is not a key of oidc.principals: name the claim value as principals does'],
    ['an OIDC person that is no user name', (d: any) => (d.oidc = { issuer: 'https://login.example.com', audience: ['rolegate'], claim: 'sub', principals: { u1: 'arn:aws:iam::111111111111:user/alice' }, persons: { u1: 'alice smith' } }), 'oidc.persons.u1', 'must be a user name as Identity Center takes it (letters, digits and +=,.@_-, at most 128)'],
    ['a Slack workspace id that is not one', (d: any) => (d.slack = { teamIds: ['workspace-1'] }), 'slack.teamIds.0', 'must be a Slack workspace id (T…) or an Enterprise Grid org id (E…)'],
    ['a Slack user id for a workspace', (d: any) => (d.slack = { teamIds: ['U0123ALICE'] }), 'slack.teamIds.0', 'must be a Slack workspace id (T…) or an Enterprise Grid org id (E…)'],
    ['an alias that reads as an account id', (d: any) => (d.accounts[0].alias = '333333333333'), 'accounts.0.alias', 'must not be 12 digits: it would read as an account id'],
    ['a Slack parameter path without its leading slash', (d: any) => (d.slack = { signingSecretParameter: 'rolegate/slack/signing-secret' }), 'slack.signingSecretParameter', PARAMETER_REASON],
    ['a Slack parameter under the reserved ssm prefix', (d: any) => (d.slack = { botTokenParameter: '/ssm/bot-token' }), 'slack.botTokenParameter', PARAMETER_REASON],
    ['a webhook secret name with a space', (d: any) => (d.webhooks = [{ url: 'https://hooks.example.com/x', secretParameter: '/rolegate/web hooks' }]), 'webhooks.0.secretParameter', PARAMETER_REASON],
    [
      'a webhook event kind that does not exist (it would never match: the receiver would hear nothing)',
      (d: any) => (d.webhooks = [{ url: 'https://hooks.example.com/x', secretParameter: '/rolegate/webhooks/x', events: ['request.activated'] }]),
      'webhooks.0.events.0',
      'must be one of: *, request.created, request.approval_recorded, request.approved, request.denied, request.cancelled, request.timed_out, request.active, request.failed, request.revoked, request.expired, drift.detected',
    ],
    ['a plain webhook secret name (no path the role could be granted)', (d: any) => (d.webhooks = [{ url: 'https://hooks.example.com/x', secretParameter: 'rolegate-hook' }]), 'webhooks.0.secretParameter', PARAMETER_REASON],
    ['a Secrets Manager reference (the roles read SSM parameters only)', (d: any) => (d.slack = { botTokenParameter: '/aws/reference/secretsmanager/rolegate/bot' }), 'slack.botTokenParameter', PARAMETER_REASON],
    [
      "a provisioner role in another account than the one it changes",
      (d: any) => (d.accounts[0].provisionerRoleArn = 'arn:aws:iam::999999999999:role/rolegate-provisioner'),
      'accounts.0.provisionerRoleArn',
      'must be a role of account 222222222222: the provisioner role lives in the account it changes',
    ],
    [
      'an identity role without the ExternalId its template demands',
      (d: any) => Object.assign(d.provisioner, { mode: 'aws', identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter' }),
      'provisioner.identityExternalId',
      'is required with identityRoleArn: templates/identity-granter-role.yaml trusts rolegate only with an ExternalId',
    ],
    [
      'an identity role outside the identity account',
      (d: any) => Object.assign(d.provisioner, { mode: 'aws', identityRoleArn: 'arn:aws:iam::999999999999:role/rolegate-identity-granter', identityExternalId: 'x-123' }),
      'provisioner.identityRoleArn',
      'must be a role of the identity account 111111111111',
    ],
    ['no accounts at all', (d: any) => (d.accounts = []), 'accounts', 'must not be empty'],
    ['a list for the Slack user map', (d: any) => (d.slack = { users: ['U0123'] }), 'slack.users', 'must be a map of names to values, not a list'],
    ['a Slack user map keyed by something else than a user id', (d: any) => (d.slack = { users: { alice: 'arn:aws:iam::111111111111:user/alice' } }), 'slack.users.alice', 'must be a Slack user id'],
    ['an OIDC issuer over http', (d: any) => (d.oidc = { issuer: 'http://login.example.com', audience: ['rolegate'] }), 'oidc.issuer', 'must be an https URL'],
    ['a Slack channel that is not a channel id', (d: any) => (d.rules[0].slackChannel = '#prod-access'), 'rules.0.slackChannel', 'must be a Slack channel id (C… or G…)'],
    ['a session above 12 hours', (d: any) => (d.profiles[0].maxSessionDurationSeconds = 50000), 'profiles.0.maxSessionDurationSeconds', 'must be at most 43200'],
    // Eleventh review: what a hostile or careless configuration could slip past.
    ['approvers in any account', (d: any) => (d.rules[1].approvers = ['arn:aws:iam::*:user/lead-*']), 'rules.1.approvers.0', WILDCARD_ACCOUNT],
    ['workload roles in any account (a trust handed outside the organisation)', (d: any) => (d.rules[1].workloadPrincipals = ['arn:aws:iam::*:role/*']), 'rules.1.workloadPrincipals.0', WILDCARD_ACCOUNT],
    ['requesters in any partition', (d: any) => (d.rules[0].requesters = ['arn:*:iam::111111111111:user/*']), 'rules.0.requesters.0', WILDCARD_ACCOUNT],
    ['a pattern with no slash after user (it matches no one)', (d: any) => (d.rules[1].approvers = ['arn:aws:iam::111111111111:userfoo']), 'rules.1.approvers.0', PATTERN_SHAPE],
    ['a pattern of another partition', (d: any) => (d.rules[1].approvers = ['arn:aws-cn:iam::111111111111:user/lead-*']), 'rules.1.approvers.0', "must be in the configuration's partition (aws)"],
    ['a provisioner role of another partition', (d: any) => (d.accounts[0].provisionerRoleArn = 'arn:aws-us-gov:iam::222222222222:role/rolegate-provisioner'), 'accounts.0.provisionerRoleArn', "must be in the configuration's partition (aws)"],
    // Sixteenth review: an entry of another partition matches no caller, so these would do nothing, silently.
    ['a frozen principal of another partition (the freeze would stop nobody)', (d: any) => (d.freeze = { principals: ['arn:aws-us-gov:iam::111111111111:user/mallory'] }), 'freeze.principals.0', "must be in the configuration's partition (aws)"],
    ['an account region that is no region', (d: any) => (d.accounts[0].region = 'Frankfurt'), 'accounts.0.region', 'must be an AWS region, as eu-west-1'],
    ['an account region of another partition (its STS knows none of the credentials)', (d: any) => (d.accounts[0].region = 'cn-north-1'), 'accounts.0.region', "is a region of partition aws-cn, not of the configuration's (aws)"],
    ['an account region of an isolated partition', (d: any) => (d.accounts[0].region = 'us-isob-east-1'), 'accounts.0.region', "is a region of partition aws-iso-b, not of the configuration's (aws)"],
    ['a responder of another partition', (d: any) => (d.responders = ['arn:aws-cn:iam::111111111111:role/security-oncall']), 'responders.0', "must be in the configuration's partition (aws)"],
    [
      'an OIDC sign-in mapped to a principal of another partition',
      (d: any) => (d.oidc = { issuer: 'https://login.example.com', audience: ['rolegate'], principals: { 'alice@example.com': 'arn:aws-cn:iam::111111111111:user/alice' } }),
      'oidc.principals.alice@example.com',
      "must be in the configuration's partition (aws)",
    ],
    ['a Slack user mapped to a principal of another partition', (d: any) => (d.slack = { users: { U0ALICE: 'arn:aws-us-gov:iam::111111111111:user/alice' } }), 'slack.users.U0ALICE', "must be in the configuration's partition (aws)"],
    [
      'a Slack user mapped to an Identity Center session of another partition',
      (d: any) => (d.slack = { users: { U0ALICE: 'arn:aws-cn:sts::111111111111:assumed-role/AWSReservedSSO_Dev_0a1b/alice@example.com' } }),
      'slack.users.U0ALICE',
      "must be in the configuration's partition (aws)",
    ],
    ['a managed policy in a partition that does not exist', (d: any) => (d.profiles[0].managedPolicyArns = ['arn:aws-zzz:iam::aws:policy/ReadOnlyAccess']), 'profiles.0.managedPolicyArns.0', POLICY_SHAPE],
    ['a managed policy ARN with an empty path segment', (d: any) => (d.profiles[0].managedPolicyArns = ['arn:aws:iam::aws:policy/a//b']), 'profiles.0.managedPolicyArns.0', POLICY_SHAPE],
    [
      "a customer-managed policy of one account granted in another (IAM attaches only the role's own account's)",
      (d: any) => (d.profiles[2].managedPolicyArns = ['arn:aws:iam::222222222222:policy/StagingOnly']),
      'rules.2.profiles',
      'grant profile "EC2Admin" in account production: arn:aws:iam::222222222222:policy/StagingOnly is a policy of account 222222222222, and a role can use only AWS-managed policies and its own account\'s',
    ],
    ['a rule whose maximum is below the minimum duration', (d: any) => ((d.minDurationMinutes = 60), (d.rules[0].maxDurationMinutes = 30)), 'rules.0.maxDurationMinutes', 'is below minDurationMinutes (60): no duration would be allowed'],
    [
      'two approvals from one named approver written in two cases',
      (d: any) => (d.rules[2].approvers = ['arn:aws:iam::111111111111:user/alice', 'arn:aws:iam::111111111111:user/ALICE']),
      'rules.2.approvalsRequired',
      'is 2, but the rule names only 1 distinct approver(s): its requests could never be approved',
    ],
    [
      'two approvals from one named approver written at two paths (IAM names are unique whatever the path)',
      (d: any) => (d.rules[2].approvers = ['arn:aws:iam::111111111111:user/alice', 'arn:aws:iam::111111111111:user/team/ALICE']),
      'rules.2.approvalsRequired',
      'is 2, but the rule names only 1 distinct approver(s): its requests could never be approved',
    ],
    [
      'a __proto__ condition operator, which the parsed document would drop (leaving the statement less conditional than written)',
      (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Condition = JSON.parse('{"__proto__": {"StringEquals": {"aws:PrincipalTag/team": "x"}}, "Bool": {"aws:SecureTransport": "true"}}')),
      'profiles.1.inlinePolicy.Statement.0.Condition.__proto__',
      'is not a key a configuration may use: it would be dropped without a word',
    ],
    [
      'a user as a workload principal (a requester could hand access to a person the rule never named)',
      (d: any) => (d.rules[1].workloadPrincipals = ['arn:aws:iam::111111111111:role/app-*', 'arn:aws:iam::111111111111:user/contractor']),
      'rules.1.workloadPrincipals.1',
      "must name roles (…:role/<name or pattern>): a workload is an application's role, and a user asks for access under a rule naming them as a requester",
    ],
    [
      'every principal of an account as a workload principal',
      (d: any) => (d.rules[1].workloadPrincipals = ['arn:aws:iam::111111111111:*']),
      'rules.1.workloadPrincipals.0',
      "must name roles (…:role/<name or pattern>): a workload is an application's role, and a user asks for access under a rule naming them as a requester",
    ],
    [
      'two profiles whose names differ only in case',
      (d: any) => d.profiles.push({ ...d.profiles[0], name: 'readonly' }),
      'profiles.3.name',
      'is profile "ReadOnly" in another case: two profiles whose names differ only in case read as one',
    ],
    ['two rules whose ids differ only in case', (d: any) => d.rules.push({ ...d.rules[0], id: 'Staging-Self-Service' }), 'rules.3.id', 'is rule "staging-self-service" in another case: two rules whose ids differ only in case read as one'],
    [
      'a webhook over plain http to another machine',
      (d: any) => (d.webhooks = [{ url: 'http://siem.internal.example.com/rolegate', secretParameter: '/rolegate/webhooks/x' }]),
      'webhooks.0.url',
      'must be https (plain http only to a receiver on this machine, 127.0.0.1 or localhost): deliveries carry reasons, principals and tickets',
    ],
    ['an unknown condition operator', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Condition = { StringEqual: { 'aws:x': 'y' } }), 'profiles.1.inlinePolicy.Statement.0.Condition.StringEqual', 'must be an IAM condition operator (StringEquals, ForAnyValue:StringLike, BoolIfExists, Null, …)'],
    ['a condition key without its service', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Condition = { StringEquals: { SourceIp: 'y' } }), 'profiles.1.inlinePolicy.Statement.0.Condition.StringEquals.SourceIp', 'must be a condition key, service:name (aws:PrincipalTag/team)'],
    ['a condition value that is an object', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Condition = { StringEquals: { 'aws:x': { a: 'b' } } }), 'profiles.1.inlinePolicy.Statement.0.Condition.StringEquals.aws:x', 'must be a string, number or boolean, or a non-empty list of them'],
    ['an empty Condition (the statement would be unconditional)', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Condition = {}), 'profiles.1.inlinePolicy.Statement.0.Condition', 'must name at least one operator (an empty Condition would make the statement unconditional)'],
    ['a condition operator over no key', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Condition = { StringEquals: {} }), 'profiles.1.inlinePolicy.Statement.0.Condition.StringEquals', 'must name at least one condition key'],
    ['a statement without an action', (d: any) => (d.profiles[1].inlinePolicy.Statement = [{ Effect: 'Allow', Resource: '*' }]), 'profiles.1.inlinePolicy.Statement.0', 'needs exactly one of Action and NotAction'],
    ['a misspelt Action', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Actoin = 's3:GetObject'), 'profiles.1.inlinePolicy.Statement.0.Actoin', 'is not a known field'],
    ['a Principal in an identity policy', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Principal = '*'), 'profiles.1.inlinePolicy.Statement.0.Principal', 'is not a known field'],
    ['a Sid with a dash', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Sid = 'deny-secrets'), 'profiles.1.inlinePolicy.Statement.0.Sid', 'must be letters and digits only (IAM refuses any other character in a Sid)'],
    [
      'two statements with one Sid',
      (d: any) => (d.profiles[1].inlinePolicy.Statement = [{ Sid: 'A', Effect: 'Deny', Action: 's3:GetObject', Resource: '*' }, { Sid: 'A', Effect: 'Deny', Action: 's3:PutObject', Resource: '*' }]),
      'profiles.1.inlinePolicy.Statement.1.Sid',
      'Sid "A" is used twice (IAM refuses duplicate Sids)',
    ],
    ['a Resource that is no ARN', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Resource = 'my-bucket'), 'profiles.1.inlinePolicy.Statement.0.Resource', 'must be "*" or an ARN, as IAM takes a resource'],
    ['an action without its service', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Action = ['s3:GetObject', 'GetObject']), 'profiles.1.inlinePolicy.Statement.0.Action.1', 'must be "*" or service:Action (s3:GetObject, ec2:Describe*), as IAM takes an action'],
    ['a NotResource with a space', (d: any) => { const st = d.profiles[1].inlinePolicy.Statement[0]; delete st.Resource; st.NotResource = 'arn:aws:s3:::my bucket'; }, 'profiles.1.inlinePolicy.Statement.0.NotResource', 'must be "*" or an ARN, as IAM takes a resource'],
    ['a numeric Resource', (d: any) => (d.profiles[1].inlinePolicy.Statement[0].Resource = 123), 'profiles.1.inlinePolicy.Statement.0.Resource', 'must be a string or a non-empty list of strings'],
    ['a text-direction override in an account name', (d: any) => (d.accounts[0].name = 'Staging\u202e'), 'accounts.0.name', 'must not hold control, invisible or text-direction characters'],
    ['an escape character in a profile description (shown to approvers)', (d: any) => (d.profiles[0].description = 'Read\u001b[2Jonly'), 'profiles.0.description', 'must not hold control, invisible or text-direction characters'],
    ['half a surrogate pair in a profile description', (d: any) => (d.profiles[0].description = 'Read \udc00only'), 'profiles.0.description', 'must be well-formed Unicode (it holds half of a surrogate pair)'],
    [
      'a webhook URL with a password (fetch refuses it, and it would sit in the file)',
      (d: any) => (d.webhooks = [{ url: 'https://user:pass@hooks.example.com/x', secretParameter: '/rolegate/webhooks/x' }]),
      'webhooks.0.url',
      'must not hold a user name or password: fetch refuses such URLs; sign with secretParameter instead',
    ],
    [
      'two OIDC emails that differ only in case (both would sign in as the last)',
      (d: any) => (d.oidc = { issuer: 'https://login.example.com', audience: ['rolegate'], principals: { 'Alice@example.com': 'arn:aws:iam::111111111111:user/alice', 'alice@example.com': 'arn:aws:iam::111111111111:user/lead-bob' } }),
      'oidc.principals.alice@example.com',
      'is "Alice@example.com" in another case: emails are compared in lower case, so both would sign in as one principal',
    ],
  ])('names the field and the reason for %s', (_what, patch, field, reason) => {
    const error = invalid(patch);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.details).toContainEqual({ field, reason });
  });
});
