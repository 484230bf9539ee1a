import fc from 'fast-check';
import { DryRunProvisioner } from '../../../src/adapters/aws/dry-run';
import { RolegateError } from '../../../src/domain/errors';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';

/*
 * Property: whatever principal ARN, reason or ticket a requester sends, every
 * trust policy rolegate would write names exactly one IAM user or role of the
 * identity account: never a wildcard, never an account root, never text that
 * came in unvalidated.
 */

const RUNS = Number(process.env.ROLEGATE_FUZZ_POLICY_RUNS ?? 400);
const nasty = fc.constantFrom('*', '?', '"', "'", '\n', '\\', '}', ']', ',"Effect":"Allow"', 'аdmin', 'ａｄｍｉｎ', ':root', '/../', '${aws:username}', ' ');
const nameish = fc.array(fc.oneof(fc.constantFrom('app', '-', 'billing', '_', '.', '@', '=', '+', ','), nasty), { minLength: 1, maxLength: 6 }).map((p) => p.join(''));
const principalArn = fc.oneof(
  nameish.map((n) => `arn:aws:iam::111111111111:role/app-${n}`),
  nameish.map((n) => `arn:aws:iam::111111111111:role/${n}`),
  fc.constantFrom('arn:aws:iam::*:root', 'arn:aws:iam::111111111111:root', 'arn:aws:iam::111111111111:role/*', '*', 'arn:aws:iam::111111111111:role/app-*', 'arn:aws:iam::111111111111:role/app-billing'),
);

describe('policy injection', () => {
  let h: Harness;
  beforeAll(async () => {
    // A rule that lets alice request for any app-* workload role, with auto-approval so every accepted request is provisioned.
    const settings = settingsWith((d) => {
      const rules = d.rules as Record<string, unknown>[];
      rules.unshift({ id: 'apps', requesters: [ARN.alice], accounts: ['staging'], profiles: ['ReadOnly'], maxDurationMinutes: 60, autoApprove: true, workloadPrincipals: ['arn:aws:iam::111111111111:role/app-*'], workloadExternalId: 'ext-1' });
    });
    h = await harness({ settings, provisioner: new DryRunProvisioner(settings) });
  });
  afterAll(async () => {
    await h.close();
  });

  it(`never writes a trust policy with a wildcard, a root or unvalidated text (${RUNS} hostile principals, reasons and tickets)`, async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(principalArn, fc.string({ maxLength: 80 }), async (arn, reason) => {
        let id: string;
        try {
          id = (await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 30, reason: `r ${reason}`, principalArn: arn })).id;
        } catch (e) {
          expect(e).toBeInstanceOf(RolegateError);
          return;
        }
        accepted++;
        const result = await provisionRequest(h.deps, id);
        expect(result.outcome).toBe('active');
        const create = result.request!.plan!.find((c) => c.command === 'CreateRole')!;
        const trust = JSON.parse(create.input.AssumeRolePolicyDocument as string);
        expect(trust.Statement).toHaveLength(1);
        const principal = trust.Statement[0].Principal.AWS as string;
        // As in IAM, `*` in a pattern crosses path separators: role/app-* also admits role/app-x/<name>.
        expect(principal).toMatch(/^arn:aws:iam::111111111111:role\/app-[A-Za-z0-9+=,.@_/-]+$/);
        expect(principal).not.toMatch(/[*?]|:root$/);
        expect(JSON.stringify(trust)).not.toContain(reason.length > 3 ? reason : '\u0000');
      }),
      { numRuns: RUNS, seed: 42 },
    );
    expect(accepted).toBeGreaterThan(0);
  }, 120_000);
});
