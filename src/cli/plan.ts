import { DryRunIdentityGranter, DryRunProvisioner } from '../adapters/aws/dry-run';
import { loadSettings, toolDeployment } from '../config';
import { DEFAULT_CONFIG_PATH } from '../environment';
import { grantTargetFor, specFor } from '../domain/grants';
import { ForbiddenError } from '../domain/errors';
import type { Settings } from '../domain/settings';
import type { AccessRequest, PlannedCall } from '../domain/model';
import { identityCenterSessionOf, principalFromCallerArn, type Principal } from '../domain/principal';
import { checkDuration, findAccount, findProfile, personalPin, resolveGrantee, ruleFor } from '../domain/rules';
import { identityGranterFor } from '../domain/use-cases/grant-membership';

export interface PlanInput {
  configPath?: string;
  account: string;
  profile: string;
  durationMinutes: number;
  requester: string;
  principalArn?: string;
}

export interface PlanResult {
  rule: string;
  approvalsRequired: number;
  approvers: string[];
  roleArn: string;
  calls: PlannedCall[];
}

/** As createRequest pins, with what `plan` needs to be told: the session ARN names the user. */
function planPin(settings: Settings, sessionName: string | undefined, caller: Principal, grantee: Principal, requester: string): { principalSession?: string } {
  try {
    return personalPin(settings, sessionName !== undefined ? { sessionName } : {}, caller, grantee);
  } catch (e) {
    if (!(e instanceof ForbiddenError)) throw e;
    throw new ForbiddenError(
      `Personal grants are on: access for Identity Center role ${caller.arn} is planned for one user. Pass that user's session as --as arn:${caller.partition}:sts::${caller.accountId}:assumed-role/${caller.name}/<user name> (not ${requester}).`,
      e.details,
    );
  }
}

/**
 * The IAM changes a request would make, computed from the configuration
 * alone with the dry-run provisioner: same rules, same documents, same
 * validation, nothing sent to AWS and nothing stored.
 */
export async function planRequest(input: PlanInput): Promise<PlanResult> {
  const settings = loadSettings(input.configPath ?? DEFAULT_CONFIG_PATH, toolDeployment());
  const caller = principalFromCallerArn(input.requester, settings.rolePaths);
  const account = findAccount(settings, input.account);
  const profile = findProfile(settings, input.profile);
  const rule = ruleFor(settings, caller, account, profile.name);
  const grantee = resolveGrantee(rule, caller, input.principalArn);
  checkDuration(settings, rule, input.durationMinutes);
  const now = new Date().toISOString();
  // As createRequest would pin it: an Identity Center session ARN names its user, and a personal grant is theirs.
  const sessionName = identityCenterSessionOf(input.requester);
  const request = {
    id: 'PLAN',
    requester: caller.arn,
    principalArn: grantee.arn,
    ...planPin(settings, sessionName, caller, grantee, input.requester),
    accountId: account.id,
    profile: profile.name,
    ruleId: rule.id,
  } as AccessRequest;
  const target = grantTargetFor(settings, request);
  const spec = specFor(settings, target, { PLAN: new Date(Date.parse(now) + input.durationMinutes * 60_000).toISOString() });
  const outcome = await new DryRunProvisioner(settings).apply(spec, 'PLAN');
  const granter = identityGranterFor({ identity: new DryRunIdentityGranter(settings), settings }, grantee);
  const identity = granter ? await granter.grant(grantee, outcome.roleArn, spec.endsAt, target.grantKey) : [];
  return {
    rule: rule.id,
    approvalsRequired: rule.autoApprove ? 0 : rule.approvalsRequired,
    approvers: rule.autoApprove ? [] : rule.approvers,
    roleArn: outcome.roleArn,
    calls: [...outcome.calls, ...identity],
  };
}
