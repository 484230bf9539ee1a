import * as z from 'zod/mini';
import './zod-locale';
import { identityCenterSessionOf, isAccountId, parsePrincipalArn, principalKeyOf } from './principal';
import { ACCESS_ENDS_SID } from './provisioning/access-ends';
import { DEFAULT_MANAGED_POLICIES_PER_ROLE, MAX_MANAGED_POLICIES, managedPoliciesProblem, profileInlinePolicyProblem } from './provisioning/policy-limits';
import { MAX_RULE_MINUTES, NOTIFICATION_KINDS } from './model';
import { ruleNames } from './rule-names';
import { ACCOUNT_ALIAS, asciiLowerCase, HIDDEN_CHARACTERS, HIDDEN_CHARACTERS_REASON, LONE_SURROGATE, LONE_SURROGATE_REASON, NAME } from './text';

/*
 * The configuration file's schema: accounts, access profiles, access rules,
 * identity-side grants and chat settings. Validated once at start
 * (src/config.ts) and by `npm run validate-config -- FILE` in CI. Unknown keys
 * are refused so that a typo never silently disables a control.
 */

const accountId = z.string().check(z.refine(isAccountId, { message: 'must be a 12-digit AWS account id' }));
/** IAM's partitions; each ARN must also be in the configuration's own (checked below). */
const PARTITION = '(?:aws|aws-cn|aws-us-gov)';
/** An IAM path and name: no empty segment, no trailing slash. */
const pathAndName = (max: number) => `(?:[A-Za-z0-9+=,.@_-]+\\/)*[A-Za-z0-9+=,.@_-]{1,${max}}`;
const roleArn = z.string().check(
  z.maxLength(2048),
  z.regex(new RegExp(`^arn:${PARTITION}:iam::\\d{12}:role\\/${pathAndName(64)}$`), { message: 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)' }),
);
const managedPolicyArn = z.string().check(
  z.maxLength(2048),
  z.regex(new RegExp(`^arn:${PARTITION}:iam::(aws|\\d{12}):policy\\/${pathAndName(128)}$`), {
    message: 'must be an IAM managed policy ARN (arn:aws:iam::aws:policy/<name> or arn:aws:iam::<account>:policy/<name>)',
  }),
);
/**
 * A principal pattern: an IAM user/role ARN in which `*` and `?` may stand
 * for characters of the path and name (`:*` for every user and role of the
 * account). Never of the account: a wildcard account matches principals of
 * every AWS account, outside the organisation too.
 */
const principalPattern = z.string().check(
  z.minLength(1),
  z.regex(/^arn:[a-z*?-]+:iam::[0-9*?]{1,12}:(?:(?:user|role)\/[A-Za-z0-9+=,.@_/*?-]+|\*)$/, {
    message: 'must be an IAM user or role ARN, optionally with * or ? wildcards in its name (e.g. arn:aws:iam::111111111111:user/*)',
  }),
  // Said only of an IAM ARN (any other is told it is not one, above), with a wildcard in its partition or account.
  z.refine((p) => !/^arn:[^:]*:iam::/.test(p) || /^arn:[a-z-]+:iam::\d{12}:/.test(p), {
    message: 'must name its partition and account (12 digits) without wildcards: a wildcard account matches principals of every AWS account, outside your organisation too',
  }),
);
const name = z.string().check(z.regex(NAME, { message: 'must be 1–40 letters, digits, _ or -, starting with a letter or digit' }));
const externalId = () => z.string().check(z.regex(/^[\w+=,.@:/-]{2,1224}$/, { message: 'must be 2–1224 characters of [A-Za-z0-9+=,.@:/_-]' }));
/** A whole number in [min, max]. */
const intIn = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));
const nonEmpty = () => z.string().check(z.minLength(1));

/**
 * An SSM parameter path as GetParameter accepts it: a leading slash (SSM
 * refuses `a/b`), at most 15 levels, not under `aws` or `ssm`. Only paths:
 * the functions' IAM grants name the path their secrets live under
 * (`secretsPath`, checked in src/config.ts), and a plain name is under none.
 */
const PARAMETER_NAME = /^(?!\/(?:aws|ssm)\/)(?:\/[\w.-]+){2,15}$/i;
const parameterName = () =>
  z.string().check(
    z.regex(PARAMETER_NAME, {
      message: 'must be an SSM parameter path with its leading slash (/rolegate/slack/bot-token), 2 to 15 levels, not under /aws/ or /ssm/',
    }),
  );

/** A string or a non-empty list of strings, as IAM takes Action, Resource and their Not forms, each string in IAM's form. */
const oneOrMore = (form: RegExp, what: string) => {
  const one = nonEmpty().check(z.regex(form, { message: what }));
  return z.union([one, z.array(one).check(z.minLength(1))], { message: 'must be a string or a non-empty list of strings' });
};
const actions = oneOrMore(/^(?:\*|[A-Za-z0-9-]+:[A-Za-z0-9*?]+)$/, 'must be "*" or service:Action (s3:GetObject, ec2:Describe*), as IAM takes an action');
const resources = oneOrMore(/^(?:\*|arn:\S+)$/, 'must be "*" or an ARN, as IAM takes a resource');

/** IAM's condition operators, with their set prefixes and IfExists forms (Null takes neither). */
const CONDITION_OPERATOR =
  /^(?:(?:ForAnyValue:|ForAllValues:)?(?:String(?:Not)?Equals(?:IgnoreCase)?|String(?:Not)?Like|Numeric(?:Not)?Equals|Numeric(?:Less|Greater)Than(?:Equals)?|Date(?:Not)?Equals|Date(?:Less|Greater)Than(?:Equals)?|Bool|BinaryEquals|(?:Not)?IpAddress|Arn(?:Not)?(?:Equals|Like))(?:IfExists)?|Null)$/;
/** A condition key: service:name, as aws:PrincipalTag/team or s3:prefix; a tag key after the slash may hold spaces. */
const CONDITION_KEY = /^[A-Za-z0-9-]+:[^\s/]+(?:\/.+)?$/;
const conditionValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()])).check(z.minLength(1))], {
  message: 'must be a string, number or boolean, or a non-empty list of them',
});
/**
 * A Condition block: IAM's operators, each over condition keys and plain
 * values, never empty (an empty block would leave the statement
 * unconditional). Checked here, as the rest of the statement is. (A
 * `__proto__` key, which parsing would drop unseen, is refused before:
 * config.ts, shapeProblem.)
 */
const condition = z
  .record(
    z.string().check(z.regex(CONDITION_OPERATOR, { message: 'must be an IAM condition operator (StringEquals, ForAnyValue:StringLike, BoolIfExists, Null, …)' })),
    z
      .record(z.string().check(z.regex(CONDITION_KEY, { message: 'must be a condition key, service:name (aws:PrincipalTag/team)' })), conditionValue)
      .check(z.refine((keys) => Object.keys(keys).length > 0, { message: 'must name at least one condition key' })),
  )
  .check(z.refine((ops) => Object.keys(ops).length > 0, { message: 'must name at least one operator (an empty Condition would make the statement unconditional)' }));
/**
 * A statement of an identity-based policy as IAM takes it: checked here, not
 * by IAM at the first grant, which for a profile on a role others share
 * would be a rewrite of their live access.
 */
const policyStatement = z
  .strictObject({
    Sid: z.optional(z.string().check(z.regex(/^[A-Za-z0-9]*$/, { message: 'must be letters and digits only (IAM refuses any other character in a Sid)' }))),
    Effect: z.enum(['Allow', 'Deny']),
    Action: z.optional(actions),
    NotAction: z.optional(actions),
    Resource: z.optional(resources),
    NotResource: z.optional(resources),
    Condition: z.optional(condition),
  })
  .check(
    z.superRefine((st, ctx) => {
      if ((st.Action === undefined) === (st.NotAction === undefined)) ctx.addIssue({ code: 'custom', message: 'needs exactly one of Action and NotAction' });
      if ((st.Resource === undefined) === (st.NotResource === undefined)) ctx.addIssue({ code: 'custom', message: 'needs exactly one of Resource and NotResource' });
    }),
  );
const policyDocument = z.strictObject({
  Version: z.literal('2012-10-17', { message: 'must be "2012-10-17"' }),
  Id: z.optional(z.string()),
  Statement: z.array(policyStatement).check(
    z.minLength(1),
    z.superRefine((statements, ctx) => {
      const seen = new Set<string>();
      statements.forEach((st, i) => {
        if (!st.Sid) return;
        if (seen.has(st.Sid)) ctx.addIssue({ code: 'custom', path: [i, 'Sid'], message: `Sid "${st.Sid}" is used twice (IAM refuses duplicate Sids)` });
        seen.add(st.Sid);
      });
    }),
  ),
});
/** Text shown to people (Slack, the CLI, webhooks): no control, invisible or text-direction characters. */
const shownText = (max: number) =>
  z.string().check(
    z.maxLength(max),
    z.refine((t) => !HIDDEN_CHARACTERS.test(t), { message: HIDDEN_CHARACTERS_REASON }),
    z.refine((t) => !LONE_SURROGATE.test(t), { message: LONE_SURROGATE_REASON }),
  );

export const accountSchema = z.strictObject({
  id: accountId,
  // Never 12 digits: an alias that reads as another account's id would take over that id's lookups and rules.
  alias: z.string().check(
    z.regex(ACCOUNT_ALIAS, { message: 'must be lowercase letters, digits or -' }),
    z.refine((a) => !/^\d{12}$/.test(a), { message: 'must not be 12 digits: it would read as an account id' }),
  ),
  name: z.optional(shownText(100).check(z.minLength(1))),
  /** The provisioner role rolegate assumes in this account (templates/provisioner-role.yaml). */
  provisionerRoleArn: roleArn,
  /** ExternalId the provisioner role's trust requires; guards against the confused deputy, not a secret. */
  externalId: externalId(),
  /** IAM's trust-policy size quota, raised per account on request (default 2,048). */
  trustPolicyMaxChars: z._default(intIn(2048, 8192), 2048),
  /** IAM's managed-policies-per-role quota, raised per account on request (default 10, at most 20). */
  managedPoliciesPerRoleMax: z._default(intIn(DEFAULT_MANAGED_POLICIES_PER_ROLE, MAX_MANAGED_POLICIES), DEFAULT_MANAGED_POLICIES_PER_ROLE),
  /** The region the access's CLI profile names (its STS endpoint); needed in aws-cn and aws-us-gov, where the global one refuses. */
  region: z.optional(z.string().check(z.regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, { message: 'must be an AWS region, as eu-west-1' }))),
});

export const profileSchema = z.strictObject({
  name,
  description: z._default(shownText(300), ''),
  managedPolicyArns: z._default(z.array(managedPolicyArn).check(z.maxLength(MAX_MANAGED_POLICIES)), []),
  inlinePolicy: z.optional(policyDocument),
  permissionsBoundaryArn: z.optional(managedPolicyArn),
  /** MaxSessionDuration of the role: 3600–43200 seconds. */
  maxSessionDurationSeconds: z._default(intIn(3600, 43200), 3600),
  requireMfa: z._default(z.boolean(), false),
});

export const ruleSchema = z.strictObject({
  id: name,
  description: z._default(shownText(300), ''),
  /** Who may request (principal patterns of the caller). */
  requesters: z.array(principalPattern).check(z.minLength(1)),
  /** Account ids or aliases; `*` for every configured account. */
  accounts: z.array(nonEmpty()).check(z.minLength(1)),
  /** Profile names; `*` for every profile. */
  profiles: z.array(nonEmpty()).check(z.minLength(1)),
  maxDurationMinutes: intIn(15, MAX_RULE_MINUTES),
  approvers: z._default(z.array(principalPattern), []),
  approvalsRequired: z._default(intIn(1, 10), 1),
  autoApprove: z._default(z.boolean(), false),
  /** How long a request may wait for a decision before it times out. */
  pendingTimeoutMinutes: z._default(intIn(5, 60 * 24 * 14), 60 * 24),
  /** Workload principals (roles) a requester may ask access for; empty means only themselves. */
  // Roles only: a user is a person, who asks for themselves under a rule that names them as a requester.
  workloadPrincipals: z._default(
    // Said only of a pattern otherwise well-formed (user/… or :*), which the checks above leave to this one.
    z.array(principalPattern.check(z.refine((p) => !/^arn:[a-z-]+:iam::\d{12}:(?:user\/|\*$)/.test(p), { message: 'must name roles (…:role/<name or pattern>): a workload is an application\'s role, and a user asks for access under a rule naming them as a requester' }))),
    [],
  ),
  /** Adds an sts:ExternalId condition to the role's trust for workload principals. */
  workloadExternalId: z.optional(externalId()),
  /** Slack channel id where approval requests for this rule are posted. */
  slackChannel: z.optional(z.string().check(z.regex(/^[CG][A-Z0-9]{2,}$/, { message: 'must be a Slack channel id (C… or G…)' }))),
});

/** The identity role is assumed only for identity grants in aws mode (dry-run plans them, sending nothing). */
export function identityRoleUsed(s: { provisioner: { identityGrants: boolean; mode: string } }): boolean {
  return s.provisioner.identityGrants && s.provisioner.mode === 'aws';
}

export const settingsSchema = z
  .strictObject({
    partition: z._default(z.enum(['aws', 'aws-cn', 'aws-us-gov']), 'aws'),
    /** The account where people's users and workload roles live. */
    identityAccountId: z.optional(accountId),
    /**
     * IAM paths of the roles people sign in through: an assumed-role session
     * does not show its role's path, and a trust policy must name the role
     * with it. First match wins; roles matching none are taken to be at `/`.
     */
    rolePaths: z._default(
      z.array(
        z.strictObject({
          roleName: z.string().check(z.regex(/^[A-Za-z0-9+=,.@_*?-]{1,64}$/, { message: 'must be an IAM role name, optionally with * or ? wildcards' })),
          path: z.string().check(
            z.maxLength(512),
            z.regex(/^\/(?:[A-Za-z0-9+=,.@_-]+\/)+$/, { message: 'must be an IAM path below the root, starting and ending with / (e.g. /aws-reserved/sso.amazonaws.com/)' }),
          ),
        }),
      ),
      [],
    ),
    /** Shortest access anyone may ask for. */
    minDurationMinutes: z._default(intIn(15, 60), 15),
    provisioner: z.prefault(
      z.strictObject({
        /** `dry-run` records the plan on the request and changes nothing in AWS. */
        mode: z._default(z.enum(['dry-run', 'aws']), 'dry-run'),
        /** Grant the requester sts:AssumeRole (and sts:SetSourceIdentity) in the identity account with an inline policy. */
        identityGrants: z._default(z.boolean(), false),
        /** Role rolegate assumes in the identity account for identity grants (required with identityGrants in aws mode). */
        identityRoleArn: z.optional(roleArn),
        identityExternalId: z.optional(externalId()),
        /**
         * An Identity Center sign-in asking for its own role gets a role of
         * its own, whose trust admits only sessions with its user name
         * (aws:userid), not everyone the permission set admits.
         */
        personalGrants: z._default(z.boolean(), false),
        /** What the sweeper does with drift: repair it or only report it. */
        driftAction: z._default(z.enum(['repair', 'report']), 'report'),
      }),
      {},
    ),
    accounts: z.array(accountSchema).check(z.minLength(1)),
    profiles: z.array(profileSchema).check(z.minLength(1)),
    rules: z.array(ruleSchema).check(z.minLength(1)),
    /**
     * Incident responders (principal patterns): they see every request,
     * whatever its rule (auto-approved ones and those of removed rules
     * included), and may revoke any; they never approve, deny or retry, so
     * they cannot give anyone access.
     */
    responders: z._default(z.array(principalPattern), []),
    /**
     * Stops new access in an incident, records untouched: no request by or
     * for a principal matching `principals`, nor in an account of `accounts`
     * (ids, aliases or `*`), is made, extended, approved, retried or
     * provisioned (an approved one ends FAILED at provisioning). Denials,
     * cancels and revokes go on; live access stays until revoked or ended.
     */
    freeze: z.prefault(
      z.strictObject({
        principals: z._default(z.array(principalPattern), []),
        accounts: z._default(z.array(nonEmpty()), []),
      }),
      {},
    ),
    slack: z.optional(
      z.strictObject({
        /** Slack user id → principal ARN of that person. */
        users: z._default(z.record(z.string().check(z.regex(/^[UW][A-Z0-9]{2,}$/, { message: 'must be a Slack user id' })), z.string()), {}),
        /**
         * Workspaces (team ids, T…) whose people may act; absent: any workspace the app is installed in. With
         * Enterprise Grid, also the org's id (E…): a click or form names the user's team as the org, a slash
         * command the workspace it ran in.
         */
        teamIds: z.optional(z.array(z.string().check(z.regex(/^[TE][A-Z0-9]{2,}$/, { message: 'must be a Slack workspace id (T…) or an Enterprise Grid org id (E…)' }))).check(z.minLength(1))),
        /** SSM parameter paths of the signing secret and bot token (under /<secretsPath>/slack/). */
        signingSecretParameter: z._default(parameterName(), '/rolegate/slack/signing-secret'),
        botTokenParameter: z._default(parameterName(), '/rolegate/slack/bot-token'),
      }),
    ),
    /**
     * Optional OIDC sign-in (API Gateway JWT authorizer, e.g. Cognito or Okta):
     * the value of `claim` in a verified token names the person, and
     * `principals` maps it to the IAM principal whose rules apply.
     */
    oidc: z.optional(
      z.strictObject({
        issuer: z.url({ protocol: /^https$/, message: 'must be an https URL' }),
        audience: z.array(nonEmpty()).check(z.minLength(1)),
        claim: z._default(nonEmpty(), 'email'),
        principals: z._default(z.record(nonEmpty(), z.string()), {}),
        /**
         * The person a mapped claim value is, as Identity Center names them (its user name), where the claim
         * is not that name (a `sub`, a username): one person signed in both ways is then one person, who may
         * not approve their own request through the other. Absent: the claim value (an email in lower case).
         */
        persons: z._default(
          z.record(nonEmpty(), z.string().check(z.regex(/^[A-Za-z0-9+=,.@_-]{1,128}$/, { message: 'must be a user name as Identity Center takes it (letters, digits and +=,.@_-, at most 128)' }))),
          {},
        ),
      }),
    ),
    webhooks: z._default(
      z.array(
        z.strictObject({
          url: z.url({ protocol: /^https?$/, message: 'must be an http or https URL' }).check(
            // fetch refuses them (every delivery would fail), and a password belongs in secretParameter, not here.
            z.refine((u) => !/^[a-z]+:\/\/[^/?#]*@/i.test(u), { message: 'must not hold a user name or password: fetch refuses such URLs; sign with secretParameter instead' }),
            // Reasons, principals and tickets would cross the network in clear, and a delivery could be held or replayed.
            z.refine((u) => !/^http:/i.test(u) || /^http:\/\/(?:127\.0\.0\.1|localhost|\[::1\])(?:[:/]|$)/i.test(u), {
              message: 'must be https (plain http only to a receiver on this machine, 127.0.0.1 or localhost): deliveries carry reasons, principals and tickets',
            }),
          ),
          /** SSM parameter path of the HMAC secret (never the secret itself), under /<secretsPath>/. */
          secretParameter: parameterName(),
          /** Notification kinds to send, or * for all: a kind misspelt would otherwise never match and the receiver hear nothing. */
          events: z._default(z.array(z.enum(['*', ...NOTIFICATION_KINDS])), ['*']),
        }),
      ),
      [],
    ),
  })
  .check(
    z.superRefine((s, ctx) => {
    // A role ARN of another account would send every call there and fail with AccessDenied at run time.
    const accountOf = (arn: string) => arn.split(':')[4];
    // An ARN of another partition names nothing rolegate can reach, and a pattern of one matches no caller.
    const inPartition = (arn: string, path: (string | number)[]) => {
      if (arn.split(':')[1] !== s.partition) ctx.addIssue({ code: 'custom', path, message: `must be in the configuration's partition (${s.partition})` });
    };
    s.accounts.forEach((a, i) => inPartition(a.provisionerRoleArn, ['accounts', i, 'provisionerRoleArn']));
    // A profile naming another partition's region asks an STS that knows none of its credentials.
    s.accounts.forEach((a, i) => {
      const of = a.region === undefined ? undefined : partitionOfRegion(a.region);
      if (of !== undefined && of !== s.partition) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'region'], message: `is a region of partition ${of}, not of the configuration's (${s.partition})` });
      // Without one, the profile's session is asked of the global STS endpoint, which refuses these partitions' credentials.
      if (a.region === undefined && (s.partition === 'aws-cn' || s.partition === 'aws-us-gov')) {
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'region'], message: `is required in partition ${s.partition}: the access's CLI profile must name the STS it asks, since the global endpoint refuses ${s.partition} credentials` });
      }
    });
    if (s.provisioner.identityRoleArn) inPartition(s.provisioner.identityRoleArn, ['provisioner', 'identityRoleArn']);
    s.profiles.forEach((p, i) => {
      p.managedPolicyArns.forEach((arn, j) => inPartition(arn, ['profiles', i, 'managedPolicyArns', j]));
      if (p.permissionsBoundaryArn) inPartition(p.permissionsBoundaryArn, ['profiles', i, 'permissionsBoundaryArn']);
    });
    s.rules.forEach((r, i) => {
      for (const field of ['requesters', 'approvers', 'workloadPrincipals'] as const) r[field].forEach((arn, j) => inPartition(arn, ['rules', i, field, j]));
    });
    // A freeze entry of another partition would freeze nobody, silently, in an incident; a responder's would see nothing.
    s.responders.forEach((arn, j) => inPartition(arn, ['responders', j]));
    s.freeze.principals.forEach((arn, j) => inPartition(arn, ['freeze', 'principals', j]));
    const ids = new Set<string>();
    const aliases = new Set<string>();
    s.accounts.forEach((a, i) => {
      if (ids.has(a.id)) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'id'], message: `account ${a.id} is listed twice` });
      if (aliases.has(a.alias)) ctx.addIssue({ code: 'custom', path: ['accounts', i, 'alias'], message: `alias "${a.alias}" is used twice` });
      ids.add(a.id);
      aliases.add(a.alias);
    });
    /**
     * Records the names of a list, refusing one given twice, or again in another case: such names read as one
     * to people (and IAM role names, which carry profile names, are unique whatever their case).
     */
    const uniqueNames = (list: 'profiles' | 'rules', field: 'name' | 'id', what: string, plural: string) => {
      const seen = new Set<string>();
      const anyCase = new Map<string, string>();
      const add = (value: string, i: number) => {
        const sameButCase = anyCase.get(value.toLowerCase());
        if (seen.has(value)) ctx.addIssue({ code: 'custom', path: [list, i, field], message: `${what} "${value}" is defined twice` });
        else if (sameButCase !== undefined) ctx.addIssue({ code: 'custom', path: [list, i, field], message: `is ${what} "${sameButCase}" in another case: two ${plural} differ only in case read as one` });
        seen.add(value);
        anyCase.set(value.toLowerCase(), value);
      };
      return { seen, add };
    };
    const { seen: profiles, add: addProfile } = uniqueNames('profiles', 'name', 'profile', 'profiles whose names');
    s.profiles.forEach((p, i) => {
      addProfile(p.name, i);
      if (p.managedPolicyArns.length === 0 && !p.inlinePolicy) {
        ctx.addIssue({ code: 'custom', path: ['profiles', i], message: 'a profile needs managedPolicyArns or an inlinePolicy' });
      }
      const statements = p.inlinePolicy ? [(p.inlinePolicy as { Statement?: unknown }).Statement].flat() : [];
      if (statements.some((st) => (st as { Sid?: unknown } | undefined)?.Sid === ACCESS_ENDS_SID)) {
        ctx.addIssue({ code: 'custom', path: ['profiles', i, 'inlinePolicy'], message: `the Sid ${ACCESS_ENDS_SID} is rolegate's own (the statement that ends the access)` });
      }
      // IAM would refuse every role made from it; checked here, no grant fails on it, nor any rewrite of a role others share.
      const inlineProblem = profileInlinePolicyProblem(p.inlinePolicy);
      if (inlineProblem) ctx.addIssue({ code: 'custom', path: ['profiles', i, 'inlinePolicy'], message: inlineProblem });
    });
    const checkAccounts = (names: readonly string[], path: (string | number)[]) =>
      names.forEach((a, j) => {
        if (a !== '*' && !ids.has(a) && !aliases.has(a)) ctx.addIssue({ code: 'custom', path: [...path, j], message: `unknown account "${a}" (not an id or alias under accounts)` });
      });
    // A name that matches no account would freeze nothing, silently, in an incident.
    checkAccounts(s.freeze.accounts, ['freeze', 'accounts']);
    const { add: addRule } = uniqueNames('rules', 'id', 'rule', 'rules whose ids');
    s.rules.forEach((r, i) => {
      addRule(r.id, i);
      checkAccounts(r.accounts, ['rules', i, 'accounts']);
      r.profiles.forEach((p, j) => {
        if (p !== '*' && !profiles.has(p)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'profiles', j], message: `unknown profile "${p}"` });
      });
      // Every account the rule grants a profile in must take as many managed policies on one role as the profile attaches
      // (counted once each, as the role gets them), and hold the customer-managed ones it names: IAM attaches only
      // AWS-managed policies and the account's own.
      for (const profile of s.profiles.filter((p) => ruleNames(r.profiles, p.name))) {
        for (const account of s.accounts.filter((a) => ruleNames(r.accounts, a.id, a.alias))) {
          const problem = managedPoliciesProblem(new Set(profile.managedPolicyArns).size, account.managedPoliciesPerRoleMax);
          if (problem) {
            ctx.addIssue({ code: 'custom', path: ['rules', i, 'profiles'], message: `grant profile "${profile.name}" in account ${account.alias}: ${problem}` });
          }
          const elsewhere = [...profile.managedPolicyArns, ...(profile.permissionsBoundaryArn ? [profile.permissionsBoundaryArn] : [])].find((arn) => {
            const owner = accountOf(arn);
            return owner !== 'aws' && owner !== account.id;
          });
          if (elsewhere) {
            ctx.addIssue({
              code: 'custom',
              path: ['rules', i, 'profiles'],
              message: `grant profile "${profile.name}" in account ${account.alias}: ${elsewhere} is a policy of account ${accountOf(elsewhere)}, and a role can use only AWS-managed policies and its own account's`,
            });
          }
        }
      }
      if (r.maxDurationMinutes < s.minDurationMinutes) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'maxDurationMinutes'], message: `is below minDurationMinutes (${s.minDurationMinutes}): no duration would be allowed` });
      }
      // Named approvers only (no wildcard): there must be as many distinct principals as approvals needed, or every request times out.
      if (!r.autoApprove && r.approvers.length > 0 && r.approvers.every((a) => !/[*?]/.test(a))) {
        // As IAM tells principals apart: by name whatever its case, and not by path.
        const distinct = new Set(r.approvers.map((a) => principalKeyOf(a) ?? a.toLowerCase())).size;
        if (distinct < r.approvalsRequired) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'approvalsRequired'], message: `is ${r.approvalsRequired}, but the rule names only ${distinct} distinct approver(s): its requests could never be approved` });
        }
      }
      if (!r.autoApprove && r.approvers.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'approvers'], message: 'a rule that is not autoApprove needs at least one approver' });
      }
    });
    s.accounts.forEach((a, i) => {
      if (accountOf(a.provisionerRoleArn) !== a.id) {
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'provisionerRoleArn'], message: `must be a role of account ${a.id}: the provisioner role lives in the account it changes` });
      }
    });
    // Checked only when the role is used.
    const identityRole = identityRoleUsed(s) ? s.provisioner.identityRoleArn : undefined;
    if (identityRole && s.identityAccountId && accountOf(identityRole) !== s.identityAccountId) {
      ctx.addIssue({ code: 'custom', path: ['provisioner', 'identityRoleArn'], message: `must be a role of the identity account ${s.identityAccountId}` });
    }
    if (identityRole && !s.provisioner.identityExternalId) {
      ctx.addIssue({
        code: 'custom',
        path: ['provisioner', 'identityExternalId'],
        message: 'is required with identityRoleArn: templates/identity-granter-role.yaml trusts rolegate only with an ExternalId',
      });
    }
    if (s.provisioner.identityGrants && !s.identityAccountId) {
      ctx.addIssue({ code: 'custom', path: ['identityAccountId'], message: 'is required with provisioner.identityGrants: identity policies go only on principals of that account' });
    }
    if (identityRoleUsed(s) && !s.provisioner.identityRoleArn) {
      ctx.addIssue({
        code: 'custom',
        path: ['provisioner', 'identityRoleArn'],
        message: "is required with identityGrants in aws mode: rolegate's own roles hold no IAM permission; deploy templates/identity-granter-role.yaml in the identity account (even if rolegate runs there) and name that role",
      });
    }
    // An email claim is matched in lower case: two keys that differ only in case would be one person, the last one winning.
    const subjects = new Map<string, string>();
    Object.entries(s.oidc?.principals ?? {}).forEach(([subject, arn]) => {
      try {
        parsePrincipalArn(arn);
        // A person mapped to another partition's principal would be refused everything, without a word why.
        inPartition(arn, ['oidc', 'principals', subject]);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['oidc', 'principals', subject], message: 'must be an IAM user or role ARN' });
      }
      if (s.oidc?.claim !== 'email') return;
      const key = asciiLowerCase(subject);
      const earlier = subjects.get(key);
      if (earlier !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['oidc', 'principals', subject], message: `is "${earlier}" in another case: emails are compared in lower case, so both would sign in as one principal` });
      }
      subjects.set(key, subject);
    });
    for (const subject of Object.keys(s.oidc?.persons ?? {})) {
      // A person for a claim no sign-in maps would never be used: a typo, silently.
      if (!Object.hasOwn(s.oidc?.principals ?? {}, subject)) {
        ctx.addIssue({ code: 'custom', path: ['oidc', 'persons', subject], message: 'is not a key of oidc.principals: name the claim value as principals does' });
      }
    }
    Object.entries(s.slack?.users ?? {}).forEach(([user, arn]) => {
      // An Identity Center session ARN names the person too (the user name Identity Center sets), so a Slack
      // user mapped to one acts as that person: refused their own requests, pinned on personal grants.
      if (identityCenterSessionOf(arn) !== undefined) return inPartition(arn, ['slack', 'users', user]);
      try {
        parsePrincipalArn(arn);
        inPartition(arn, ['slack', 'users', user]);
      } catch {
        ctx.addIssue({
          code: 'custom',
          path: ['slack', 'users', user],
          message: 'must be an IAM user or role ARN, or an Identity Center session ARN (arn:aws:sts::<account>:assumed-role/AWSReservedSSO_<set>_<id>/<user name>)',
        });
      }
    });
  }),
  );

/** Regions of partitions other than aws, by prefix (the isolated ones rolegate does not support, named so none passes for aws). */
const REGION_PARTITIONS: [string, string][] = [
  ['cn-', 'aws-cn'],
  ['us-gov-', 'aws-us-gov'],
  ['us-iso-', 'aws-iso'],
  ['us-isob-', 'aws-iso-b'],
  ['us-isof-', 'aws-iso-f'],
  ['eu-isoe-', 'aws-iso-e'],
];

/** The partition a region belongs to: cn-* regions are aws-cn's, us-gov-* aws-us-gov's, the isolated ones theirs, the others aws's. */
export function partitionOfRegion(region: string): string {
  return REGION_PARTITIONS.find(([prefix]) => region.startsWith(prefix))?.[1] ?? 'aws';
}

export type Settings = z.output<typeof settingsSchema>;
export type AccountSettings = z.output<typeof accountSchema>;
export type Profile = z.output<typeof profileSchema>;
export type Rule = z.output<typeof ruleSchema>;
