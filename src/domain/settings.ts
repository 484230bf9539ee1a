import { z } from 'zod';
import { isAccountId, parsePrincipalArn } from './principal';

/*
 * The configuration file's schema: accounts, access profiles, access rules,
 * identity-side grants and chat settings. Validated once at start
 * (src/config.ts) and by `npm run validate-config -- FILE` in CI. Unknown keys
 * are refused so that a typo never silently disables a control.
 */

const accountId = z.string().refine(isAccountId, { message: 'must be a 12-digit AWS account id' });
const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/, {
  message: 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
});
const managedPolicyArn = z.string().regex(/^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/[A-Za-z0-9+=,.@_/-]{1,512}$/, {
  message: 'must be an IAM managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)',
});
/** A principal pattern: an IAM user/role ARN in which `*` and `?` may stand for characters. */
const principalPattern = z
  .string()
  .min(1)
  .regex(/^arn:(aws[a-z-]*|\*):iam::(\d{12}|\*):(user|role|\*)[A-Za-z0-9+=,.@_/*?-]*$/, {
    message: 'must be an IAM user or role ARN, optionally with * or ? wildcards (e.g. arn:aws:iam::111111111111:user/*)',
  });
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, {
  message: 'must be 1–40 letters, digits, _ or -, starting with a letter or digit',
});

const policyStatement = z.looseObject({
  Effect: z.enum(['Allow', 'Deny']),
});
const policyDocument = z.looseObject({
  Version: z.literal('2012-10-17', { message: 'must be "2012-10-17"' }),
  Statement: z.array(policyStatement).min(1),
});

export const accountSchema = z.strictObject({
  id: accountId,
  alias: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be lowercase letters, digits or -' }),
  name: z.string().min(1).max(100).optional(),
  /** The provisioner role rolegate assumes in this account (templates/provisioner-role.yaml). */
  provisionerRoleArn: roleArn,
  /** ExternalId the provisioner role's trust requires; guards against the confused deputy, not a secret. */
  externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, { message: 'must be 2–1224 characters of [A-Za-z0-9+=,.@:/_-]' }),
  /** IAM's trust-policy size quota, raised per account on request (default 2,048). */
  trustPolicyMaxChars: z.number().int().min(2048).max(8192).default(2048),
  region: z.string().optional(),
});

export const profileSchema = z.strictObject({
  name,
  description: z.string().max(300).default(''),
  managedPolicyArns: z.array(managedPolicyArn).max(20).default([]),
  inlinePolicy: policyDocument.optional(),
  permissionsBoundaryArn: managedPolicyArn.optional(),
  /** MaxSessionDuration of the role: 3600–43200 seconds. */
  maxSessionDurationSeconds: z.number().int().min(3600).max(43200).default(3600),
  requireMfa: z.boolean().default(false),
});

export const ruleSchema = z.strictObject({
  id: name,
  description: z.string().max(300).default(''),
  /** Who may request (principal patterns of the caller). */
  requesters: z.array(principalPattern).min(1),
  /** Account ids or aliases; `*` for every configured account. */
  accounts: z.array(z.string().min(1)).min(1),
  /** Profile names; `*` for every profile. */
  profiles: z.array(z.string().min(1)).min(1),
  maxDurationMinutes: z.number().int().min(15).max(60 * 24 * 30),
  approvers: z.array(principalPattern).default([]),
  approvalsRequired: z.number().int().min(1).max(10).default(1),
  autoApprove: z.boolean().default(false),
  /** How long a request may wait for a decision before it times out. */
  pendingTimeoutMinutes: z.number().int().min(5).max(60 * 24 * 14).default(60 * 24),
  /** Workload principals (roles) a requester may ask access for; empty means only themselves. */
  workloadPrincipals: z.array(principalPattern).default([]),
  /** Adds an sts:ExternalId condition to the role's trust for workload principals. */
  workloadExternalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/).optional(),
  /** Slack channel id where approval requests for this rule are posted. */
  slackChannel: z.string().regex(/^[CG][A-Z0-9]{2,}$/).optional(),
});

export const settingsSchema = z
  .strictObject({
    partition: z.enum(['aws', 'aws-cn', 'aws-us-gov']).default('aws'),
    /** The account where people's users and workload roles live. */
    identityAccountId: accountId.optional(),
    /** Shortest access anyone may ask for. */
    minDurationMinutes: z.number().int().min(15).max(60).default(15),
    provisioner: z
      .strictObject({
        /** `dry-run` records the plan on the request and changes nothing in AWS. */
        mode: z.enum(['dry-run', 'aws']).default('dry-run'),
        /** Grant the requester sts:AssumeRole in the identity account with an inline policy. */
        identityGrants: z.boolean().default(false),
        /** Role rolegate assumes in the identity account for identity grants (optional: its own role otherwise). */
        identityRoleArn: roleArn.optional(),
        identityExternalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/).optional(),
        /** What the sweeper does with drift: repair it or only report it. */
        driftAction: z.enum(['repair', 'report']).default('report'),
      })
      .prefault({}),
    accounts: z.array(accountSchema).min(1),
    profiles: z.array(profileSchema).min(1),
    rules: z.array(ruleSchema).min(1),
    slack: z
      .strictObject({
        /** Slack user id → principal ARN of that person. */
        users: z.record(z.string().regex(/^[UW][A-Z0-9]{2,}$/, { message: 'must be a Slack user id' }), z.string()).default({}),
        /** SSM parameter or Secrets Manager names of the signing secret and bot token. */
        signingSecretParameter: z.string().optional(),
        botTokenParameter: z.string().optional(),
      })
      .optional(),
    /**
     * Optional OIDC sign-in (API Gateway JWT authorizer, e.g. Cognito or Okta):
     * the value of `claim` in a verified token names the person, and
     * `principals` maps it to the IAM principal whose rules apply.
     */
    oidc: z
      .strictObject({
        issuer: z.url({ protocol: /^https$/ }),
        audience: z.array(z.string().min(1)).min(1),
        claim: z.string().min(1).default('email'),
        principals: z.record(z.string().min(1), z.string()).default({}),
      })
      .optional(),
    webhooks: z
      .array(
        z.strictObject({
          url: z.url({ protocol: /^https?$/ }),
          /** Parameter name of the HMAC secret (never the secret itself). */
          secretParameter: z.string().min(1),
          events: z.array(z.string()).default(['*']),
        }),
      )
      .default([]),
  })
  .superRefine((s, ctx) => {
    const ids = new Set<string>();
    const aliases = new Set<string>();
    s.accounts.forEach((a, i) => {
      if (ids.has(a.id)) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'id'], message: `account ${a.id} is listed twice` });
      if (aliases.has(a.alias)) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'alias'], message: `alias "${a.alias}" is used twice` });
      ids.add(a.id);
      aliases.add(a.alias);
    });
    const profiles = new Set<string>();
    s.profiles.forEach((p, i) => {
      if (profiles.has(p.name)) ctx.addIssue({ code: 'custom', path: ['profiles', i, 'name'], message: `profile "${p.name}" is defined twice` });
      profiles.add(p.name);
      if (p.managedPolicyArns.length === 0 && !p.inlinePolicy) {
        ctx.addIssue({ code: 'custom', path: ['profiles', i], message: 'a profile needs managedPolicyArns or an inlinePolicy' });
      }
    });
    const rules = new Set<string>();
    s.rules.forEach((r, i) => {
      if (rules.has(r.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `rule "${r.id}" is defined twice` });
      rules.add(r.id);
      r.accounts.forEach((a, j) => {
        if (a !== '*' && !ids.has(a) && !aliases.has(a)) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'accounts', j], message: `unknown account "${a}" (not an id or alias under accounts)` });
        }
      });
      r.profiles.forEach((p, j) => {
        if (p !== '*' && !profiles.has(p)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'profiles', j], message: `unknown profile "${p}"` });
      });
      if (!r.autoApprove && r.approvers.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'approvers'], message: 'a rule that is not autoApprove needs at least one approver' });
      }
    });
    Object.entries(s.oidc?.principals ?? {}).forEach(([subject, arn]) => {
      try {
        parsePrincipalArn(arn);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['oidc', 'principals', subject], message: 'must be an IAM user or role ARN' });
      }
    });
    Object.entries(s.slack?.users ?? {}).forEach(([user, arn]) => {
      try {
        parsePrincipalArn(arn);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['slack', 'users', user], message: 'must be an IAM user or role ARN' });
      }
    });
  });

export type Settings = z.output<typeof settingsSchema>;
export type AccountSettings = z.output<typeof accountSchema>;
export type Profile = z.output<typeof profileSchema>;
export type Rule = z.output<typeof ruleSchema>;
