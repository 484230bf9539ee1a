import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARN } from '../../helpers/settings';

const ROOT = join(__dirname, '..', '..', '..');

/*
 * `npx rolegate` as people run it: bin/rolegate.js in a fresh node, from the project root, with README's commands.
 * The other CLI tests call main() inside jest, whose transform loads every module; only a real process meets Node's
 * own loaders. bin/ runs dist/cli.js when it is built, else the TypeScript source, so each case runs a copy of bin/
 * with one or the other beside it (whatever this checkout has in dist/ plays no part): the source and node_modules,
 * linked, as a fresh clone has them; or the bundle `npm run build:cli` builds, built here.
 */
describe('bin/rolegate.js in a fresh node', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rolegate-bin-'));
  const bin = (layout: string) => join(dir, layout, 'bin', 'rolegate.js');

  beforeAll(() => {
    for (const layout of ['source', 'bundled']) {
      mkdirSync(join(dir, layout, 'bin'), { recursive: true });
      copyFileSync(join(ROOT, 'bin', 'rolegate.js'), bin(layout));
    }
    symlinkSync(join(ROOT, 'src'), join(dir, 'source', 'src'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'source', 'node_modules'));
    // package.json's build:cli as it stands, writing to the layout's dist/ instead of the checkout's.
    const [tool, ...args] = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['build:cli'] as string).split(' ');
    const outfile = `--outfile=${join(dir, 'bundled', 'dist', 'cli.js')}`;
    const build = spawnSync(join(ROOT, 'node_modules', '.bin', tool!), args.map((a) => (a.startsWith('--outfile=') ? outfile : a)), { cwd: ROOT, stdio: 'pipe' });
    if (build.status !== 0) throw new Error(`build:cli failed: ${build.stderr}`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs a layout's bin/rolegate.js from the project root (its config/ and serverless.yml), with no ROLEGATE_* in its environment. */
  function run(layout: string, argv: string[]) {
    const r = spawnSync(process.execPath, [bin(layout), ...argv], { cwd: ROOT, env: { PATH: process.env.PATH }, stdio: 'pipe', timeout: 15_000 });
    return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  describe.each([
    ['from the TypeScript source, as in a fresh clone', 'source'],
    ['from the bundle npm run build:cli builds', 'bundled'],
  ])('%s', (_, layout) => {
    it('validate-config loads the configuration module it imports lazily, and says the file is valid', () => {
      expect(run(layout, ['validate-config', 'config/rolegate.example.yaml'])).toEqual({
        code: 0,
        stdout: 'config/rolegate.example.yaml: valid (2 accounts, 3 profiles, 3 rules; provisioner dry-run: requests go ACTIVE with a plan, and nothing is sent to AWS; set provisioner.mode: aws to grant access)\n',
        stderr: '',
      });
    });

    it('plan loads the planner it imports lazily, and prints the rule and the role', () => {
      const r = run(layout, ['plan', 'production', 'EC2Admin', '1h', '--as', ARN.alice]);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      const lines = r.stdout.split('\n');
      expect(lines[0]).toBe('Rule admin-two-approvals: 2 approval(s) by arn:aws:iam::111111111111:user/lead-*, arn:aws:iam::111111111111:user/sre-*');
      expect(lines[1]).toMatch(/^Role arn:aws:iam::333333333333:role\/rolegate\/rg-EC2Admin-alice-[0-9a-f]+$/);
    });

    it('with --json, writes an error as one JSON line on stderr and nothing else, though it built an AWS SDK client (no Node-version notice)', () => {
      // No region anywhere: the CLI asks an SDK client for the profile's, which on Node 20 would print the SDK's notice.
      const r = run(layout, ['catalog', '--api', 'http://127.0.0.1:9', '--json']);
      expect(r.code).toBe(1);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      // No credentials in this environment either: refused before any call, as one line.
      expect(JSON.parse(lines[0]!)).toMatchObject({ error: 'ERROR', message: expect.stringMatching(/^No AWS credentials to sign the request with/) });
    });
  });
});
