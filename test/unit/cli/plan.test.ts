import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type Io } from '../../../src/cli/main';
import { loadSettings, validatedConfig } from '../../../src/config';
import { functionSettings } from '../../../src/environment';
import { ARN, EXAMPLE_CONFIG } from '../../helpers/settings';

/*
 * `plan` and `validate-config` work from the configuration file alone: no
 * API, no AWS. The injected fetch fails the test if either ever calls out.
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const noNetwork = (async () => {
  throw new Error('plan and validate-config must not call the API');
}) as unknown as typeof fetch;

async function run(argv: string[], env: Io['env'] = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env, fetch: noNetwork });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const plan = (...argv: string[]) => run(['plan', ...argv, '--config', EXAMPLE_CONFIG]);

describe('rolegate plan (local dry run)', () => {
  it('prints the rule, the role and the numbered IAM calls a request would make', async () => {
    const r = await plan('production', 'EC2Admin', '1h', '--as', ARN.alice);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`Rule admin-two-approvals: 2 approval(s) by arn:aws:iam::111111111111:user/lead-*, arn:aws:iam::111111111111:user/sre-*`);
    expect(lines[1]).toMatch(/^Role arn:aws:iam::333333333333:role\/rolegate\/rg-EC2Admin-alice-[0-9a-f]+$/);
    expect(lines[2]).toBe('');
    expect(lines.slice(3).map((l) => /^\s*(\d+)\. (\S+) /.exec(l)?.slice(1, 3).join(' '))).toEqual([
      '1 sts:AssumeRole',
      '2 iam:CreateRole',
      '3 iam:PutRolePolicy',
      '4 iam:AttachRolePolicy',
      '5 iam:PutUserPolicy',
    ]);
    // The account's ExternalId is a secret of sorts: the plan names where it comes from, not its value.
    expect(r.stdout).not.toContain('rolegate-production-91c2');
  });

  it('plans the trust, boundary, MFA and end time from the rule and profile with --json', async () => {
    const before = Date.now();
    const r = await plan('production', 'EC2Admin', '90m', '--as', ARN.alice, '--json');
    const after = Date.now();
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ rule: 'admin-two-approvals', approvalsRequired: 2 });
    const roleName = result.roleArn.slice(result.roleArn.lastIndexOf('/') + 1);

    // The end comes from the clock: read it from the trust, check it against the run's window, then pin every document.
    const create = result.calls.find((c: { command: string }) => c.command === 'CreateRole');
    const end: string = JSON.parse(create.input.AssumeRolePolicyDocument).Statement[0].Condition.DateLessThan['aws:CurrentTime'];
    expect(Date.parse(end)).toBeGreaterThanOrEqual(before + 90 * 60_000);
    expect(Date.parse(end)).toBeLessThanOrEqual(after + 90 * 60_000);
    const docs = (calls: { input: Record<string, unknown> }[]) =>
      calls.map((c) => ({ ...c, input: Object.fromEntries(Object.entries(c.input).map(([k, v]) => [k, k.endsWith('PolicyDocument') ? JSON.parse(v as string) : v])) }));
    expect(result.roleArn).toBe(`arn:aws:iam::333333333333:role/rolegate/${roleName}`);
    expect(docs(result.calls)).toEqual([
      { service: 'sts', command: 'AssumeRole', input: { RoleArn: 'arn:aws:iam::333333333333:role/rolegate-provisioner', RoleSessionName: 'rolegate-PLAN', DurationSeconds: 3600, ExternalId: '(accounts[].externalId)' } },
      {
        service: 'iam',
        command: 'CreateRole',
        input: {
          Path: '/rolegate/',
          RoleName: roleName,
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'RolegateGrant',
                Effect: 'Allow',
                Principal: { AWS: ARN.alice },
                Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
                Condition: { DateLessThan: { 'aws:CurrentTime': end }, Bool: { 'aws:MultiFactorAuthPresent': 'true' }, StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' } },
              },
            ],
          },
          MaxSessionDuration: 7200,
          Description: `rolegate grant: EC2Admin for ${ARN.alice}`,
          PermissionsBoundary: 'arn:aws:iam::aws:policy/PowerUserAccess',
          Tags: [
            { Key: 'managed-by', Value: 'rolegate' },
            { Key: 'rolegate:grant-key', Value: `333333333333_${roleName}` },
            { Key: 'rolegate:profile', Value: 'EC2Admin' },
            { Key: 'rolegate:principal', Value: ARN.alice },
            { Key: 'rolegate:requests', Value: 'PLAN' },
            { Key: 'rolegate:ends-at', Value: end },
          ],
        },
      },
      {
        service: 'iam',
        command: 'PutRolePolicy',
        input: {
          RoleName: roleName,
          PolicyName: 'rolegate-profile',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Sid: 'RolegateAccessEnds', Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateGreaterThan: { 'aws:CurrentTime': end } } }],
          },
        },
      },
      { service: 'iam', command: 'AttachRolePolicy', input: { RoleName: roleName, PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2FullAccess' } },
      {
        service: 'iam',
        command: 'PutUserPolicy',
        input: {
          UserName: 'alice',
          PolicyName: expect.stringMatching(/^rolegate-[0-9a-f]{16}$/),
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Sid: 'RolegateAssume', Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Resource: result.roleArn, Condition: { DateLessThan: { 'aws:CurrentTime': end } } }],
          },
        },
      },
    ]);
  });

  it('says a self-service rule approves at once', async () => {
    const r = await plan('staging', 'ReadOnly', '30', '--as', ARN.bob);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('Rule staging-self-service: approved at once');
    expect(r.stdout).toContain('role/rolegate/rg-ReadOnly-bob-');
  });

  it('plans for a workload role named with --principal', async () => {
    const r = await plan('production', 'ReadOnly', '30', '--as', ARN.alice, '--principal', ARN.appRole, '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    const trust = JSON.parse(result.calls.find((c: { command: string }) => c.command === 'CreateRole').input.AssumeRolePolicyDocument);
    expect(trust.Statement[0].Principal).toEqual({ AWS: ARN.appRole });
    expect(result.calls.map((c: { command: string }) => c.command)).toContain('PutRolePolicy');
  });

  it('refuses a duration over the rule maximum with exit 1 and the reason', async () => {
    const r = await plan('production', 'EC2Admin', '3h', '--as', ARN.alice);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: Rule "admin-two-approvals" allows at most 120 minutes.');
  });

  it.each([
    ['a duration under the minimum', ['production', 'ReadOnly', '10', '--as', ARN.alice], 'at least 15 minutes'],
    ['an account the configuration does not know', ['nowhere', 'ReadOnly', '30', '--as', ARN.alice], 'nowhere'],
    ['a profile the configuration does not know', ['production', 'GodMode', '30', '--as', ARN.alice], 'GodMode'],
    ['a requester no rule names', ['production', 'ReadOnly', '30', '--as', 'arn:aws:iam::444444444444:user/mallory'], ''],
    ['a workload role the rule does not allow', ['production', 'ReadOnly', '30', '--as', ARN.alice, '--principal', ARN.otherRole], ''],
  ])('refuses %s with exit 1', async (_what, argv, fragment) => {
    const r = await plan(...argv);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: \S/);
    expect(r.stderr).toContain(fragment);
  });

  it('with --json, says why it cannot plan as one JSON line: the code and details the API would give', async () => {
    const over = await plan('production', 'EC2Admin', '3h', '--as', ARN.alice, '--json');
    expect(over.code).toBe(1);
    expect(over.stdout).toBe('');
    expect(JSON.parse(over.stderr)).toEqual({ error: 'FORBIDDEN', message: 'Rule "admin-two-approvals" allows at most 120 minutes.', details: [{ field: 'durationMinutes', reason: "above the rule's maximum of 120" }] });
    const short = await plan('production', 'ReadOnly', '10', '--as', ARN.alice, '--json');
    expect(short.code).toBe(1);
    expect(short.stderr.split('\n')).toHaveLength(1);
    expect(JSON.parse(short.stderr)).toMatchObject({ error: 'VALIDATION_FAILED', message: expect.stringContaining('at least 15 minutes') });
  });

  it.each([
    ['without --as', ['production', 'ReadOnly', '30']],
    ['without a duration', ['production', 'ReadOnly', '--as', ARN.alice]],
    ['with a duration that is not one', ['production', 'ReadOnly', '1.5h', '--as', ARN.alice]],
  ])('is a usage error (exit 2) %s', async (_what, argv) => {
    const r = await plan(...argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: rolegate plan <account> <profile> <minutes> --as ARN');
  });

  it('reads the configuration from $ROLEGATE_CONFIG when --config is absent', async () => {
    const r = await run(['plan', 'staging', 'ReadOnly', '30', '--as', ARN.alice], { ROLEGATE_CONFIG: EXAMPLE_CONFIG });
    expect(r.code).toBe(0);
    const missing = await run(['plan', 'staging', 'ReadOnly', '30', '--as', ARN.alice], { ROLEGATE_CONFIG: '/nonexistent/rolegate.yaml' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Cannot read the configuration file /nonexistent/rolegate.yaml');
  });
});

describe('rolegate plan with personal grants', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-plan-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('plans the role and the pinned trust an Identity Center user would get, as a request would', async () => {
    const path = join(dir, 'personal.yaml');
    writeFileSync(
      path,
      readFileSync(EXAMPLE_CONFIG, 'utf8')
        .replace(/^(\s*)driftAction: report$/m, '$1driftAction: report\n$1personalGrants: true')
        .replace(/^rules:\n/m, 'rules:\n  - id: sso-read\n    requesters: ["arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_*"]\n    accounts: [staging]\n    profiles: [ReadOnly]\n    maxDurationMinutes: 60\n    autoApprove: true\n'),
    );
    const r = await run(['plan', 'staging', 'ReadOnly', '30', '--as', 'arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Dev_0a1b/Alice@Example.com', '--json', '--config', path]);
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout);
    expect(result.roleArn).toMatch(/^arn:aws:iam::222222222222:role\/rolegate\/rg-ReadOnly-alice@example\.com-[0-9a-f]{8}$/);
    const createRole = result.calls.find((c: { command: string }) => c.command === 'CreateRole');
    expect(JSON.parse(createRole.input.AssumeRolePolicyDocument).Statement[0].Condition.StringLike).toEqual({ 'aws:userid': '*:Alice@Example.com' });

    // Planned for the role itself, it says how to name the user.
    const byRole = await run(['plan', 'staging', 'ReadOnly', '30', '--as', 'arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_0a1b', '--config', path]);
    expect(byRole.code).toBe(1);
    expect(byRole.stderr).toContain(
      'Pass that user\'s session as --as arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Dev_0a1b/<user name> (not arn:aws:iam::111111111111:role/AWSReservedSSO_Dev_0a1b).',
    );
  });
});

describe('rolegate validate-config', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('exits 0 on the shipped example and summarises it', async () => {
    const r = await run(['validate-config', EXAMPLE_CONFIG]);
    expect(r).toEqual({
      code: 0,
      stdout: `${EXAMPLE_CONFIG}: valid (2 accounts, 3 profiles, 3 rules; provisioner dry-run: requests go ACTIVE with a plan, and nothing is sent to AWS; set provisioner.mode: aws to grant access)`,
      stderr: '',
    });
  });

  it('warns on stderr of a rule that can never govern a request, and still exits 0', async () => {
    const text = `${readFileSync(EXAMPLE_CONFIG, 'utf8').replace(
      /^rules:\n/m,
      'rules:\n  - id: everything-read\n    requesters: ["arn:aws:iam::111111111111:user/*"]\n    accounts: ["*"]\n    profiles: [ReadOnly, S3ReadOnly]\n    maxDurationMinutes: 60\n    autoApprove: true\n',
    )}`;
    expect(text).toContain('everything-read');
    const path = write('shadowing.yaml', text);
    const r = await run(['validate-config', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/: valid \(2 accounts, 3 profiles, 4 rules; /);
    expect(r.stderr.split('\n')).toEqual([
      'warning: rule "staging-self-service" never governs a request: for every account and profile it covers, an earlier rule ("everything-read") names all its requesters, and the first rule in file order governs. Move it up if it should.',
      'warning: rule "production-read" never governs a request: for every account and profile it covers, an earlier rule ("everything-read") names all its requesters, and the first rule in file order governs. Move it up if it should.',
    ]);
  });

  it('says when the provisioner grants access for real', async () => {
    const text = readFileSync(EXAMPLE_CONFIG, 'utf8').replace(
      /^(\s*)mode: dry-run.*$/m,
      '$1mode: aws\n$1identityRoleArn: arn:aws:iam::111111111111:role/rolegate-identity-granter\n$1identityExternalId: rolegate-identity-5b1e',
    );
    expect(text).toContain('mode: aws');
    const r = await run(['validate-config', write('aws.yaml', text)]);
    expect(r.stdout).toMatch(/: valid \(2 accounts, 3 profiles, 3 rules; provisioner aws\)$/);
    expect(r.code).toBe(0);
  });

  it('validates $ROLEGATE_CONFIG, the file rolegate would load, when no file is given', async () => {
    const broken = write('env.yaml', 'partition: aws\n');
    const r = await run(['validate-config'], { ROLEGATE_CONFIG: broken });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${broken} is not valid:`);
  });

  it('exits 1 and names every bad field with its reason', async () => {
    const example = readFileSync(EXAMPLE_CONFIG, 'utf8');
    const broken = example
      .replace('id: "222222222222"', 'id: "2222"')
      .replace('maxSessionDurationSeconds: 3600', 'maxSessionDurationSeconds: 60')
      .replace('    approvalsRequired: 1\n', '    approvalsRequired: 1\n    approver: oops\n');
    expect(broken).not.toBe(example);
    const path = write('broken.yaml', broken);
    const r = await run(['validate-config', path]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines[0]).toBe(`${path} is not valid:`);
    expect(lines).toEqual(
      expect.arrayContaining([
        '  - accounts.0.id: must be a 12-digit AWS account id',
        expect.stringMatching(/^ {2}- profiles\.0\.maxSessionDurationSeconds: .*3600/),
        '  - rules.1.approver: is not a known field',
      ]),
    );
  });

  it('--write OUT (packaging\'s) writes the validated settings, the hash of the text read, the stack values and the code fingerprint it is given', async () => {
    const out = join(dir, 'nested', 'validated-config.json');
    const code = 'c0de'.repeat(16);
    const r = await run(['validate-config', EXAMPLE_CONFIG, '--write', out], { ROLEGATE_CODE_FINGERPRINT: code });
    expect(r).toEqual({ code: 0, stdout: expect.stringMatching(new RegExp(`: valid \\(2 accounts, 3 profiles, 3 rules; .*\\)\nwrote the validated configuration to ${out}$`)), stderr: '' });

    expect(JSON.parse(readFileSync(out, 'utf8'))).toStrictEqual(validatedConfig(EXAMPLE_CONFIG, {}, code));
    // What a function built from that code then loads, as it is: no word of passing it over.
    const stale: string[] = [];
    expect(await functionSettings(EXAMPLE_CONFIG, out, {}, code, (why) => stale.push(why))).toStrictEqual(loadSettings(EXAMPLE_CONFIG));
    expect(stale).toEqual([]);
  });

  it('--write OUT writes nothing for a configuration that is not valid, nor without a code fingerprint to record', async () => {
    const out = join(dir, 'refused', 'validated-config.json');
    const invalid = await run(['validate-config', write('partial.yaml', 'partition: aws\n'), '--write', out], { ROLEGATE_CODE_FINGERPRINT: 'c0de' });
    expect(invalid.code).toBe(1);
    const unfingerprinted = await run(['validate-config', EXAMPLE_CONFIG, '--write', out]);
    expect(unfingerprinted).toEqual({ code: 2, stdout: '', stderr: expect.stringContaining('validate-config --write is for serverless package, which sets ROLEGATE_CODE_FINGERPRINT') });
    expect(existsSync(out)).toBe(false);
  });

  it('refuses, for packaging, a stack region of another partition than the configuration\'s (every AssumeRole would fail), and writes nothing', async () => {
    const out = join(dir, 'gov', 'validated-config.json');
    const env = { ROLEGATE_CODE_FINGERPRINT: 'c0de' };
    const gov = await run(['validate-config', EXAMPLE_CONFIG, '--write', out], { ...env, ROLEGATE_STACK_REGION: 'us-gov-west-1' });
    expect(gov).toEqual({
      code: 1,
      stdout: '',
      stderr: `${EXAMPLE_CONFIG} is not valid for this stack:\n  - partition: is aws, but the stack deploys to us-gov-west-1, a region of aws-us-gov: every AssumeRole into its accounts would fail`,
    });
    expect(existsSync(out)).toBe(false);
    expect((await run(['validate-config', EXAMPLE_CONFIG, '--write', out], { ...env, ROLEGATE_STACK_REGION: 'eu-central-1' })).code).toBe(0);
  });

  describe('--json', () => {
    it('prints one document: valid, the summary, and the rules an earlier rule hides as warnings (stderr stays empty)', async () => {
      const text = readFileSync(EXAMPLE_CONFIG, 'utf8').replace(
        /^rules:\n/m,
        'rules:\n  - id: everything-read\n    requesters: ["arn:aws:iam::111111111111:user/*"]\n    accounts: ["*"]\n    profiles: [ReadOnly, S3ReadOnly]\n    maxDurationMinutes: 60\n    autoApprove: true\n',
      );
      const path = write('shadowing-json.yaml', text);
      const r = await run(['validate-config', path, '--json']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({
        path,
        valid: true,
        summary: expect.stringMatching(/^2 accounts, 3 profiles, 4 rules; /),
        warnings: [
          { rule: 'staging-self-service', shadowedBy: ['everything-read'] },
          { rule: 'production-read', shadowedBy: ['everything-read'] },
        ],
      });
      expect(JSON.parse((await run(['validate-config', EXAMPLE_CONFIG, '--json'])).stdout).warnings).toEqual([]);
    });

    it('refuses with one JSON line on stderr: CONFIG_INVALID and each bad field in details', async () => {
      const broken = readFileSync(EXAMPLE_CONFIG, 'utf8').replace('id: "222222222222"', 'id: "2222"').replace('    approvalsRequired: 1\n', '    approvalsRequired: 1\n    approver: oops\n');
      const path = write('broken-json.yaml', broken);
      const r = await run(['validate-config', path, '--json']);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(1);
      const error = JSON.parse(r.stderr);
      expect(error).toMatchObject({ error: 'CONFIG_INVALID', message: expect.stringMatching(new RegExp(`^${path} is not valid:\n`)) });
      expect(error.details).toEqual(
        expect.arrayContaining([
          { field: 'accounts.0.id', reason: 'must be a 12-digit AWS account id' },
          { field: 'rules.1.approver', reason: 'is not a known field' },
        ]),
      );
      const notYaml = await run(['validate-config', write('bad-json.yaml', 'accounts: [\n'), '--json']);
      expect(notYaml.code).toBe(1);
      expect(JSON.parse(notYaml.stderr)).toMatchObject({ error: 'CONFIG_INVALID', message: expect.stringContaining('is not valid YAML') });
    });

    it('names the partition as the bad field of a stack region of another partition, and writes nothing', async () => {
      const out = join(dir, 'gov-json', 'validated-config.json');
      const r = await run(['validate-config', EXAMPLE_CONFIG, '--write', out, '--json'], { ROLEGATE_CODE_FINGERPRINT: 'c0de', ROLEGATE_STACK_REGION: 'cn-north-1' });
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stderr)).toMatchObject({
        error: 'CONFIG_INVALID',
        details: [{ field: 'partition', reason: 'is aws, but the stack deploys to cn-north-1, a region of aws-cn: every AssumeRole into its accounts would fail' }],
      });
      expect(existsSync(out)).toBe(false);
      const written = await run(['validate-config', EXAMPLE_CONFIG, '--write', out, '--json'], { ROLEGATE_CODE_FINGERPRINT: 'c0de' });
      expect(JSON.parse(written.stdout)).toMatchObject({ valid: true, wrote: out });
      expect(existsSync(out)).toBe(true);
    });
  });

  it('exits 1 on a file that is not YAML, or not there', async () => {
    const bad = write('bad.yaml', 'accounts: [\n');
    const notYaml = await run(['validate-config', bad]);
    expect(notYaml.code).toBe(1);
    expect(notYaml.stderr).toContain(`${bad} is not valid YAML`);
    const missing = await run(['validate-config', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Cannot read the configuration file');
  });
});
