import fc from 'fast-check';
import { DryRunProvisioner } from '../../../src/adapters/aws/dry-run';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { fuzzRuns } from '../../helpers/fuzz-runs';

/*
 * Property: whatever principal ARN, reason or ticket a requester sends, every
 * trust policy rolegate would write names exactly one IAM user or role of the
 * identity account: never a wildcard, never an account root, never text that
 * came in unvalidated.
 */

const RUNS = fuzzRuns('ROLEGATE_FUZZ_POLICY_RUNS', 400);
const nasty = fc.constantFrom('*', '?', '"', "'", '\n', '\\', '}', ']', ',"Effect":"Allow"', 'аdmin', 'ａｄｍｉｎ', ':root', '/../', '${aws:username}', ' ');
const nameish = fc.array(fc.oneof(fc.constantFrom('app', '-', 'billing', '_', '.', '@', '=', '+', ','), nasty), { minLength: 1, maxLength: 6 }).map((p) => p.join(''));
const principalArn = fc.oneof(
  // Names IAM accepts, so a good share of requests is provisioned and its documents checked.
  fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{1,20}$/).map((n) => `arn:aws:iam::111111111111:role/app-${n}`),
  nameish.map((n) => `arn:aws:iam::111111111111:role/app-${n}`),
  nameish.map((n) => `arn:aws:iam::111111111111:role/${n}`),
  fc.constantFrom('arn:aws:iam::*:root', 'arn:aws:iam::111111111111:root', 'arn:aws:iam::111111111111:role/*', '*', 'arn:aws:iam::111111111111:role/app-*', 'arn:aws:iam::111111111111:role/app-billing'),
);
/** Starts every reason, so a document or tag holding the reason, or its start, is found even where it is not the whole value. */
const MARKER = 'RGREASONMARK';
/** Printable ASCII, any UTF-16 (newlines, look-alikes, lone surrogates: the API refuses what it must), and policy-shaped fragments. */
const reasonText = fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }), nameish);
/** None, a plain one, or one with hostile characters (which the API refuses). */
// A prefix found nowhere else, so the ticket is caught inside any longer value (a tag, a session name), not only whole.
const ticket = fc.option(fc.oneof(fc.constantFrom('RGTKT-42', 'RGTKT#7', 'RGTKT:ABC/12'), nameish.map((n) => `RGTKT${n}`)), { nil: undefined });

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
    /** The role's inline policy of the first accepted request, its end put aside: the same for every grant of the profile. */
    let inlineShape: string | undefined;
    await fc.assert(
      fc.asyncProperty(principalArn, reasonText, ticket, async (arn, reason, ticketId) => {
        // Through the HTTP API, as an attacker would send it: its validation is part of what is tested.
        const reply = await call(h.api, {
          method: 'POST',
          path: '/requests',
          caller: ARN.alice,
          body: { account: 'staging', profile: 'ReadOnly', durationMinutes: 30, reason: `${MARKER} ${reason}`, principalArn: arn, ...(ticketId !== undefined ? { ticket: ticketId } : {}) },
        });
        if (reply.status !== 201) {
          expect(reply.status).toBeGreaterThanOrEqual(400);
          expect(reply.status).toBeLessThan(500);
          return;
        }
        accepted++;
        const result = await provisionRequest(h.deps, reply.body.request.id);
        expect(result.outcome).toBe('active');
        const plan = result.request!.plan!;
        const trust = JSON.parse(plan.find((c) => c.command === 'CreateRole')!.input.AssumeRolePolicyDocument as string);
        // Exactly one statement, naming exactly the principal asked for (which the rule's app-* admitted), under the rule's ExternalId.
        expect(trust).toEqual({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'RolegateGrant',
              Effect: 'Allow',
              Principal: { AWS: arn },
              Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
              Condition: { DateLessThan: { 'aws:CurrentTime': result.request!.endsAt }, StringEquals: { 'sts:ExternalId': 'ext-1' }, StringEqualsIfExists: { 'sts:SourceIdentity': '${aws:SourceIdentity}' } },
            },
          ],
        });
        // As in IAM, `*` in a pattern crosses path separators: role/app-* also admits role/app-x/<name>.
        expect(arn).toMatch(/^arn:aws:iam::111111111111:role\/app-[A-Za-z0-9+=,.@_/-]+$/);
        // The permissions never vary with what the requester wrote: the same document for every grant, but its end.
        const inline = plan.find((c) => c.command === 'PutRolePolicy')!.input.PolicyDocument as string;
        const shape = inline.split(result.request!.endsAt!).join('<end>');
        inlineShape ??= shape;
        expect(shape).toBe(inlineShape);
        // Nor does any other document or tag carry the reason (found by its marker, within any value) or the ticket as written.
        const values = plan.flatMap((c) => stringsIn(c.input));
        expect(values.filter((v) => v.includes(MARKER))).toEqual([]);
        if (ticketId !== undefined) expect(values.filter((v) => v.includes(ticketId))).toEqual([]);
      }),
      { numRuns: RUNS, seed: 42 },
    );
    expect(accepted).toBeGreaterThan(RUNS / 10);
    expect(inlineShape).toContain('<end>');
  }, 120_000);

  it(`pins a personal grant to exactly the session name STS would issue, never to a wildcard or unvalidated text (${RUNS} hostile Identity Center session names)`, async () => {
    const SSO_ROLE = 'AWSReservedSSO_Dev_0a1b';
    const before = h.deps.settings;
    h.deps.settings = settingsWith((d) => {
      (d.provisioner as Record<string, unknown>).personalGrants = true;
      (d.rules as Record<string, unknown>[]).unshift({ id: 'sso', requesters: [`arn:aws:iam::111111111111:role/${SSO_ROLE}`], accounts: ['staging'], profiles: ['ReadOnly'], maxDurationMinutes: 60, autoApprove: true });
    });
    // STS's own alphabet at every length, the edges forced in: 64 characters may be a longer name STS cut short.
    const stsChar = fc.constantFrom(...'ABCZabcz0189+=,.@_-');
    const atLength = fc.oneof(fc.constantFrom(1, 2, 63, 64, 65), fc.integer({ min: 1, max: 70 })).chain((n) => fc.string({ unit: stsChar, minLength: n, maxLength: n }));
    const sessionName = fc.oneof(fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{2,64}$/), atLength, nameish, fc.string({ minLength: 1, maxLength: 70 }));
    let cutShort = 0;
    let pinned = 0;
    let refused = 0;
    try {
      await fc.assert(
        fc.asyncProperty(sessionName, async (name) => {
          const caller = `arn:aws:sts::111111111111:assumed-role/${SSO_ROLE}/${name}`;
          const reply = await call(h.api, { method: 'POST', path: '/requests', caller, body: { account: 'staging', profile: 'ReadOnly', durationMinutes: 30, reason: 'read' } });
          if (/^[A-Za-z0-9+=,.@_-]{64}$/.test(name)) {
            // Possibly cut short by STS: another person's name may begin the same way, so nothing is pinned to it.
            expect(reply.status).toBe(403);
            expect(reply.body.details).toEqual([{ field: 'caller', reason: 'session name is 64 characters (possibly cut short)' }]);
            cutShort++;
            return;
          }
          if (!/^[A-Za-z0-9+=,.@_-]{2,63}$/.test(name)) {
            // A name STS would not issue pins nothing, and a personal grant is never given to the whole permission set instead.
            expect(reply.status).toBeGreaterThanOrEqual(400);
            expect(reply.status).toBeLessThan(500);
            refused++;
            return;
          }
          expect(reply.status).toBe(201);
          const result = await provisionRequest(h.deps, reply.body.request.id);
          expect(result.outcome).toBe('active');
          const trust = JSON.parse(result.request!.plan!.find((c) => c.command === 'CreateRole')!.input.AssumeRolePolicyDocument as string);
          const condition = trust.Statement[0].Condition as Record<string, Record<string, string>>;
          expect(trust.Statement).toHaveLength(1);
          expect(trust.Statement[0].Principal).toEqual({ AWS: `arn:aws:iam::111111111111:role/${SSO_ROLE}` });
          pinned++;
          expect(result.request!.principalSession).toBe(name);
          expect(condition.StringLike).toEqual({ 'aws:userid': `*:${name}` });
        }),
        { numRuns: RUNS, seed: 42 },
      );
    } finally {
      h.deps.settings = before;
    }
    expect(pinned).toBeGreaterThan(RUNS / 10);
    expect(refused).toBeGreaterThan(RUNS / 10);
    expect(cutShort).toBeGreaterThan(0);
  }, 120_000);
});

/** Every string in a value, JSON documents within it parsed. */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') {
    if (/^[[{]/.test(value)) {
      try {
        return [value, ...stringsIn(JSON.parse(value))];
      } catch {
        return [value];
      }
    }
    return [value];
  }
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}
