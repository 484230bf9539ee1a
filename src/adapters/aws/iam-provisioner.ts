import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  type IAMClient,
  type Role,
  type Tag,
} from '@aws-sdk/client-iam';
import { noteWritesSent, ProvisioningError } from '../../domain/errors';
import type { PlannedCall } from '../../domain/model';
import type { ApplyOptions, GrantSpec, ManagedRoleState, ProvisionOutcome, Provisioner, RemoveOptions } from '../../domain/ports';
import {
  containedRoleProblem,
  DEFAULT_TRUST_POLICY_MAX_CHARS,
  deletedPrincipalIn,
  desiredRole,
  HOLD_SID,
  isDenyOnlyManaged,
  isLockedDown,
  keepingDenies,
  LOCKED_DOWN_SID,
  LOCKED_DOWN_STATEMENT,
  MANAGED_TAG,
  onlyDenies,
  parsePolicy,
  policySize,
  samePolicy,
  TAG_KEYS,
  trustWidens,
  type DesiredRole,
  type PolicyDocument,
} from '../../domain/provisioning/documents';
import { REQUEST_ID } from '../../domain/text';
import { ROLE_PATH } from '../../domain/provisioning/role-name';
import type { AccountSettings } from '../../domain/settings';
import { provisionerRole, type ProvisionerCredentials } from './credentials';
import {
  attachCall,
  creationCalls,
  deleteBoundaryCall,
  deleteInlineCall,
  deleteRoleCall,
  detachCall,
  putBoundaryCall,
  putInlineCall,
  tagRoleCall,
  updateRoleCall,
  updateTrustCall,
} from './iam-commands';
import { defaultSleep, withRetry, type RetryOptions } from './retry';

/**
 * What a role's inline policy holds while a boundary swap is under way:
 * nothing is allowed until the role's new policies are all in place.
 */
const HOLD_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Sid: HOLD_SID, Effect: 'Deny', Action: '*', Resource: '*' }],
};

/** The trust of a locked-down grant role (withinLimits): it admits nobody, until a person takes it out. */
const LOCKED_TRUST: PolicyDocument = { Version: '2012-10-17', Statement: [{ ...LOCKED_DOWN_STATEMENT }] };

/**
 * The IAM writes the provisioner sends, by name. Reads are sent directly.
 * templates/provisioner-role.yaml allows exactly the IAM commands imported
 * in this file (test/unit/provisioning/templates.test.ts keeps them equal).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const WRITES: Record<string, new (input: any) => any> = {
  CreateRole: CreateRoleCommand,
  AttachRolePolicy: AttachRolePolicyCommand,
  DetachRolePolicy: DetachRolePolicyCommand,
  PutRolePolicy: PutRolePolicyCommand,
  DeleteRolePolicy: DeleteRolePolicyCommand,
  UpdateAssumeRolePolicy: UpdateAssumeRolePolicyCommand,
  UpdateRole: UpdateRoleCommand,
  PutRolePermissionsBoundary: PutRolePermissionsBoundaryCommand,
  DeleteRolePermissionsBoundary: DeleteRolePermissionsBoundaryCommand,
  TagRole: TagRoleCommand,
  DeleteRole: DeleteRoleCommand,
};

/** Credentials IAM refused as stale: the next attempt assumes the role again. */
const STALE_CREDENTIALS = new Set(['ExpiredToken', 'InvalidClientTokenId']);

/** rolegate's own: under its path and tagged managed-by=rolegate. Anything else is never changed or deleted. */
export function isManagedRole(role: Pick<Role, 'Path' | 'Tags'> | undefined): boolean {
  return role?.Path === ROLE_PATH && hasManagedTag(role.Tags);
}

function hasManagedTag(tags: Tag[] | undefined): boolean {
  return (tags ?? []).some((t) => t.Key === MANAGED_TAG.Key && t.Value === MANAGED_TAG.Value);
}

const isNoSuchEntity = (e: unknown) => e instanceof ProvisioningError && e.awsCode === 'NoSuchEntity';
/**
 * IAM authorises a call on a role it does not show (not yet, or no longer) against role/<name>, without
 * the path, which the provisioner role may not write (templates/provisioner-role.yaml): such a write is
 * refused AccessDenied where NoSuchEntity is meant. Told apart by reading the role.
 */
const isAccessDenied = (e: unknown) => e instanceof ProvisioningError && e.awsCode === 'AccessDenied';

/** One account's IAM, and the writes made through it for one apply/remove. */
interface Session {
  iam: IAMClient;
  account: AccountSettings;
  calls: PlannedCall[];
}

/**
 * The target-account side of a grant, through the account's provisioner
 * role (templates/provisioner-role.yaml). apply() creates the grant's role
 * or brings a rolegate-managed one to the desired state — adding what is
 * missing, removing what the profile no longer has — and never touches a
 * role rolegate did not create. Every step is idempotent, so a re-run after
 * a crash at any point converges. ProvisionOutcome.calls lists the writes
 * sent, in order (reads are not listed).
 */
/** A grant's role that is gone, and that a change to the grant (not a new grant) must not bring back. */
function roleMissing(roleName: string, accountId: string): ProvisioningError {
  return new ProvisioningError(
    `Role ${roleName} in account ${accountId} is missing (deleted outside rolegate, perhaps on purpose): rolegate does not re-create it while changing or repairing its grant.`,
    'RoleMissing',
    false,
  );
}

export class IamProvisioner implements Provisioner {
  constructor(
    private readonly credentials: ProvisionerCredentials,
    private readonly retry: RetryOptions = {},
    /** Reads of the trust policy after writing it, while IAM propagates (250 ms, 500 ms, 1 s… apart). */
    private readonly readBackAttempts = 4,
  ) {}

  async apply(spec: GrantSpec, requestId: string, options: ApplyOptions = {}): Promise<ProvisionOutcome> {
    // Validation first: a bad document fails the request before any AWS call.
    const d = desiredRole(spec);
    const s = await this.open(spec.account, requestId);
    return this.noting(s, () => this.applyIn(s, d, options));
  }

  private async applyIn(s: Session, d: DesiredRole, options: ApplyOptions): Promise<ProvisionOutcome> {
    let role = await this.getRole(s, d.roleName);
    let trustWritten = false;
    if (!role && options.existingOnly) {
      role = await this.readAgain(s, d.roleName);
      if (!role) throw roleMissing(d.roleName, s.account.id);
    }
    if (!role) {
      const [create, ...rest] = creationCalls(d);
      if (await this.createRole(s, create!)) {
        for (const call of rest) await this.writeToNewRole(s, call, d.roleName);
        trustWritten = true;
      } else {
        // Created meanwhile by another worker (its lease lapsed) or just now by us before a lost response.
        role = await this.getRole(s, d.roleName);
        if (!role) throw new ProvisioningError(`Role ${d.roleName} in account ${s.account.id} exists but cannot be read yet; it will be retried.`, 'NotYetConsistent', true);
      }
    }
    let trust: PolicyDocument | undefined = trustWritten ? d.trustPolicy : undefined;
    if (role) {
      this.assertManaged(role, d.roleName, s.account.id, 'take over');
      trust = await this.converge(s, role, d);
    }
    if (trust) await this.readBack(s, d.roleName, trust);
    return { roleArn: role?.Arn ?? d.roleArn, calls: s.calls };
  }

  /**
   * Detaches and deletes the role's policies, then the role. An absent role is already removed; an
   * unrecorded one rolegate does not manage (the reason a provisioning failed) was never rolegate's.
   * A role `justCreated` (a failed attempt sent its CreateRole) is read again, with backoff, before
   * its absence is believed: IAM's reads lag its writes, and a lagging "no such role" would leave it.
   */
  async remove(account: AccountSettings, roleName: string, requestId: string, options: RemoveOptions = {}): Promise<PlannedCall[]> {
    const s = await this.open(account, requestId);
    return this.noting(s, () => this.removeIn(s, roleName, options));
  }

  private async removeIn(s: Session, roleName: string, options: RemoveOptions): Promise<PlannedCall[]> {
    const account = s.account;
    let role = await this.getRole(s, roleName);
    if (!role && options.justCreated) role = await this.readAgain(s, roleName);
    if (!role) return s.calls;
    if (options.unrecorded && !isManagedRole(role)) return s.calls;
    this.assertManaged(role, roleName, account.id, 'delete');
    try {
      for (const arn of await this.attachedPolicies(s, roleName)) await this.writeTolerant(s, detachCall(roleName, arn));
      for (const name of await this.inlinePolicies(s, roleName)) await this.writeTolerant(s, deleteInlineCall(roleName, name));
      await this.write(s, deleteRoleCall(roleName));
    } catch (e) {
      // Gone meanwhile (another worker, an administrator): the goal holds. IAM refuses a write to a role
      // it no longer shows as AccessDenied (isAccessDenied): one read tells which.
      if (isNoSuchEntity(e)) return s.calls;
      if (isAccessDenied(e) && !(await this.getRole(s, roleName))) return s.calls;
      throw e;
    }
    return s.calls;
  }

  /**
   * The names of the roles under rolegate's path in an account (ListRoles
   * pages only). ListRoles omits tags and the permissions boundary, so
   * reconciliation reads each role in its turn (describeManagedRole: GetRole,
   * and the inline policies with their documents, since a policy edited in
   * place keeps its name).
   */
  async listManagedRoleNames(account: AccountSettings): Promise<string[]> {
    const s = await this.open(account, 'reconcile');
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const out = await this.call(s, 'ListRoles', () => s.iam.send(new ListRolesCommand({ PathPrefix: ROLE_PATH, ...(marker ? { Marker: marker } : {}) })));
      names.push(...(out.Roles ?? []).flatMap((r) => (r.RoleName ? [r.RoleName] : [])));
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return names;
  }

  /** One role as reconciliation compares it, read afresh; undefined when it does not exist. */
  async describeManagedRole(account: AccountSettings, roleName: string): Promise<ManagedRoleState | undefined> {
    return this.stateOf(await this.open(account, 'reconcile'), roleName);
  }

  private async stateOf(s: Session, name: string): Promise<ManagedRoleState | undefined> {
    const role = await this.getRole(s, name);
    if (!role) return undefined;
    if (role.Path !== ROLE_PATH) {
      // A role of a grant's name outside /rolegate/ (GetRole reaches rg-* at the root path) is not rolegate's, and
      // the provisioner role may not read its policies: report it as not managed rather than fail on AccessDenied.
      return { roleName: name, roleArn: role.Arn!, managedByRolegate: false, outsidePath: role.Path ?? '/', trustPolicy: parsePolicy(role.AssumeRolePolicyDocument), attachedPolicyArns: [], inlinePolicies: {}, maxSessionDuration: role.MaxSessionDuration ?? 3600 };
    }
    const inlinePolicies: Record<string, unknown> = {};
    for (const policyName of await this.inlinePolicies(s, name)) {
      const document = await this.inlinePolicy(s, name, policyName);
      if (document !== undefined) inlinePolicies[policyName] = document;
    }
    return {
      roleName: name,
      roleArn: role.Arn!,
      managedByRolegate: isManagedRole(role),
      trustPolicy: parsePolicy(role.AssumeRolePolicyDocument),
      attachedPolicyArns: await this.attachedPolicies(s, name),
      inlinePolicies,
      ...(role.PermissionsBoundary?.PermissionsBoundaryArn ? { permissionsBoundaryArn: role.PermissionsBoundary.PermissionsBoundaryArn } : {}),
      maxSessionDuration: role.MaxSessionDuration ?? 3600,
      ...requestIdsOf(role),
      ...otherTagKeysOf(role),
    };
  }

  /** Runs one apply or remove; an error it throws carries the writes sent before it (errors.ts, noteWritesSent). */
  private async noting<T>(s: Session, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      noteWritesSent(e, s.calls.map((c) => c.command));
      throw e;
    }
  }

  private async open(account: AccountSettings, requestId: string): Promise<Session> {
    return { iam: await this.credentials.iamFor(provisionerRole(account), requestId), account, calls: [] };
  }

  /** Sends one call with retries; stale credentials are dropped so that the next attempt assumes afresh. */
  private async call<T>(s: Session, command: string, send: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(`${command} in account ${s.account.id}`, send, this.retry);
    } catch (e) {
      if (e instanceof ProvisioningError && e.awsCode && STALE_CREDENTIALS.has(e.awsCode)) {
        this.credentials.invalidate(s.account.id);
        throw new ProvisioningError(e.message, e.awsCode, true, 'PROVISIONING_FAILED', e.awsMessage);
      }
      throw e;
    }
  }

  /** Sends a write and records it in the session's calls. */
  private async write(s: Session, call: PlannedCall): Promise<void> {
    const Command = WRITES[call.command];
    if (!Command) throw new Error(`IamProvisioner cannot send ${call.command}`);
    await this.call(s, call.command, () => s.iam.send(new Command(call.input)));
    s.calls.push(call);
  }

  /**
   * A write to the role this run just created. IAM is eventually consistent
   * and may not show a new role yet (NoSuchEntity): tried again a few times
   * (250 ms, 500 ms, 1 s apart), then left for the next attempt as
   * NotYetConsistent (retryable), never a permanent failure.
   */
  private async writeToNewRole(s: Session, call: PlannedCall, roleName: string): Promise<void> {
    // A role IAM does not show yet is refused as AccessDenied too (isAccessDenied): tried again the same way,
    // and, still refused at the end, a refusal of its own only if IAM shows the role by then.
    let denied: unknown;
    try {
      await this.untilConsistent(
        async () => {
          try {
            await this.write(s, call);
            return true;
          } catch (e) {
            if (!isNoSuchEntity(e) && !isAccessDenied(e)) throw e;
            denied = isAccessDenied(e) ? e : undefined;
            return false;
          }
        },
        `IAM in account ${s.account.id} does not yet show role ${roleName}, created moments ago, to ${call.command}; it will be retried.`,
      );
    } catch (e) {
      if (denied !== undefined && (await this.getRole(s, roleName))) throw denied;
      throw e;
    }
  }

  /**
   * A role the first read did not show, read again 250 ms, 500 ms, 1 s …
   * later, up to readBackAttempts reads in all (IAM's reads lag its writes:
   * one created moments ago can read as absent); undefined if it stays absent.
   */
  private async readAgain(s: Session, roleName: string): Promise<Role | undefined> {
    const sleep = this.retry.sleep ?? defaultSleep;
    for (let i = 1; i < this.readBackAttempts; i++) {
      await sleep(250 * 2 ** (i - 1));
      const role = await this.getRole(s, roleName);
      if (role) return role;
    }
    return undefined;
  }

  /**
   * Tries `attempt` up to readBackAttempts times, 250 ms, 500 ms, 1 s … apart,
   * until it reports that IAM shows what was written; then gives up with a
   * retryable NotYetConsistent, for the next provisioning attempt.
   */
  private async untilConsistent(attempt: () => Promise<boolean>, notYet: string): Promise<void> {
    const sleep = this.retry.sleep ?? defaultSleep;
    for (let i = 0; i < this.readBackAttempts; i++) {
      if (i > 0) await sleep(250 * 2 ** (i - 1));
      if (await attempt()) return;
    }
    throw new ProvisioningError(notYet, 'NotYetConsistent', true);
  }

  /** A write whose target may already be gone (a policy detached meanwhile): NoSuchEntity is success. */
  private async writeTolerant(s: Session, call: PlannedCall): Promise<void> {
    try {
      await this.write(s, call);
    } catch (e) {
      if (!isNoSuchEntity(e)) throw e;
    }
  }

  /** CreateRole; false when a role with that name already exists. */
  private async createRole(s: Session, call: PlannedCall): Promise<boolean> {
    try {
      await this.write(s, call);
      return true;
    } catch (e) {
      if (e instanceof ProvisioningError && e.awsCode === 'EntityAlreadyExists') return false;
      throw e;
    }
  }

  private async getRole(s: Session, roleName: string): Promise<Role | undefined> {
    try {
      return (await this.call(s, 'GetRole', () => s.iam.send(new GetRoleCommand({ RoleName: roleName })))).Role;
    } catch (e) {
      if (isNoSuchEntity(e)) return undefined;
      throw e;
    }
  }

  private assertManaged(role: Role, roleName: string, accountId: string, verb: 'take over' | 'delete'): void {
    if (isManagedRole(role)) return;
    const where = role.Path === ROLE_PATH ? '' : ` (at path ${role.Path ?? '/'}, not ${ROLE_PATH})`;
    throw new ProvisioningError(
      verb === 'take over'
        ? `Role ${roleName} exists in account ${accountId}${where} and is not managed by rolegate; rolegate never takes over a role it did not create. Delete or rename that role, then retry.`
        : `Role ${roleName} in account ${accountId}${where} is not managed by rolegate; rolegate never deletes a role it did not create.`,
      'RoleNotManaged',
      false,
    );
  }

  /**
   * Brings an existing managed role to the desired state, in an order that
   * never lets the role allow more than before or than desired, whichever
   * step fails: the trust narrows first and widens last; a boundary is added
   * first; extra policies are removed before the profile's inline policy is
   * written and before missing policies are attached (a swap never trips the
   * managed-policies-per-role quota either). A boundary swapped or removed
   * could widen what the old policies allow, so the role is first held at
   * Deny-all (HOLD_POLICY) until its new policies are in place: it fails
   * closed, held, until a retry completes. A Deny someone else put on the
   * role (a responder's containment: in its trust or its profile policy, a
   * Deny-only inline policy, AWSDenyAll attached) is kept through all of it
   * (foreignDenies); should what is kept take the role past an IAM limit,
   * the role is locked down instead (withinLimits). Returns the trust
   * written, if it was rewritten.
   */
  private async converge(s: Session, role: Role, desired: DesiredRole): Promise<PolicyDocument | undefined> {
    const name = desired.roleName;
    const currentTrust = parsePolicy(role.AssumeRolePolicyDocument);
    const deleted = deletedPrincipalIn(currentTrust);
    if (deleted) {
      // IAM voided this trust when its grantee was deleted. The ARN written back would trust whoever holds
      // that name now, through a grant made for someone else: never. The role admits nobody meanwhile.
      throw new ProvisioningError(
        `Role ${name} in account ${s.account.id} trusts ${deleted}, IAM's id for a grantee deleted since the role was granted: a principal of that name now is someone else, and rolegate will not hand them this grant. ` +
          `Revoke the requests on this role; once none is left, a new request gets the role afresh.`,
        'PrincipalDeleted',
        false,
      );
    }
    this.assertNotLockedDown(s, name, currentTrust);
    // What is written keeps the Denies others put in the trust and the profile policy (foreignDenies), and AWSDenyAll
    // attached; all of it is read, and checked against IAM's limits, before anything is written.
    const trust = keepingDenies(desired.trustPolicy, currentTrust);
    // The profile policy is read by its name, listed or not: IAM's lists lag its writes, and one listed late would
    // be written over without the Denies it holds.
    const inline = await this.inlinePolicies(s, name);
    const liveProfile = await this.inlinePolicy(s, name, desired.inlinePolicyName);
    const others = new Map<string, unknown>();
    for (const policyName of inline.filter((p) => p !== desired.inlinePolicyName)) others.set(policyName, await this.inlinePolicy(s, name, policyName));
    const attached = await this.attachedPolicies(s, name);
    const d: DesiredRole = { ...desired, trustPolicy: trust, inlinePolicy: keepingDenies(desired.inlinePolicy, liveProfile) };
    await this.withinLimits(s, d, { trust: currentTrust, attached, others });
    const trustChanged = !samePolicy(currentTrust, trust);
    const widening = trustChanged && trustWidens(currentTrust, trust);
    if (trustChanged && !widening) await this.write(s, updateTrustCall(d));
    if (role.MaxSessionDuration !== d.maxSessionDuration || (role.Description ?? '') !== d.description) await this.write(s, updateRoleCall(d));

    let inlineAsDesired = liveProfile !== undefined && samePolicy(liveProfile, d.inlinePolicy);
    const boundary = role.PermissionsBoundary?.PermissionsBoundaryArn;
    if (boundary && boundary !== d.permissionsBoundaryArn) {
      await this.write(s, putInlineCall({ ...d, inlinePolicy: keepingDenies(HOLD_POLICY, liveProfile) }));
      inlineAsDesired = false;
      await this.write(s, d.permissionsBoundaryArn ? putBoundaryCall(d) : deleteBoundaryCall(name));
    } else if (d.permissionsBoundaryArn && !boundary) {
      await this.write(s, putBoundaryCall(d));
    }
    const current = new Map((role.Tags ?? []).map((t) => [t.Key, t.Value]));
    const changedTags = d.tags.filter((t) => current.get(t.Key) !== t.Value);
    if (changedTags.length) await this.write(s, tagRoleCall(name, changedTags));

    await this.takeOff(s, name, attached.filter((a) => !d.managedPolicyArns.includes(a)), others);
    if (!inlineAsDesired) await this.write(s, putInlineCall(d));
    for (const arn of d.managedPolicyArns.filter((a) => !attached.includes(a))) await this.write(s, attachCall(name, arn));
    if (widening) await this.write(s, updateTrustCall(d));
    return trustChanged ? d.trustPolicy : undefined;
  }

  /**
   * A role whose kept Denies (foreignDenies) would take its documents past
   * IAM's limits cannot be given its grant's state, which may be narrower
   * than what it holds (a request leaving it, a repair), and a person must
   * choose what to take off. Until then it is locked down rather than left
   * as it is: its trust admits nobody (LOCKED_TRUST, beside the Denies it
   * held where they fit) and what else allows is taken off (a policy
   * attached, an inline policy that allows); its profile policy, with its
   * end of access and whatever Denies it holds, stays. rolegate then
   * changes nothing on it (converge) until a person takes the lock out.
   * Decided on what converge read of the role (`live`), before any write.
   */
  private async withinLimits(s: Session, d: DesiredRole, live: { trust: unknown; attached: readonly string[]; others: ReadonlyMap<string, unknown> }): Promise<void> {
    const limits = { trustPolicyMaxChars: s.account.trustPolicyMaxChars, managedPoliciesPerRoleMax: s.account.managedPoliciesPerRoleMax };
    // What only denies stays (takeOff) and counts: AWSDenyAll toward the managed-policy quota, another inline policy
    // that only denies toward IAM's size limit over all of a role's inline policies.
    const keptManaged = live.attached.filter((a) => isDenyOnlyManaged(a) && !d.managedPolicyArns.includes(a)).length;
    const keptInlineChars = [...live.others.values()].filter((doc) => onlyDenies(doc)).reduce((n: number, doc) => n + policySize(doc), 0);
    const problem = containedRoleProblem(d, keptManaged, limits, keptInlineChars);
    if (problem === undefined) return;
    const name = d.roleName;
    const withDenies = keepingDenies(LOCKED_TRUST, live.trust);
    const locked = policySize(withDenies) <= (limits.trustPolicyMaxChars ?? DEFAULT_TRUST_POLICY_MAX_CHARS) ? withDenies : LOCKED_TRUST;
    // What allows goes first, the lock last: a lock on the role then means the lockdown is whole, and one a failure
    // cut short is done again by the next write, which meets the same limit.
    await this.takeOff(s, name, live.attached, live.others);
    await this.write(s, updateTrustCall({ ...d, trustPolicy: locked }));
    throw new ProvisioningError(
      `Role ${name} in account ${s.account.id} holds Denies rolegate did not write, which it keeps, and with them ${problem}. ` +
        `rolegate locked the role down rather than leave it as it was: its trust admits nobody (statement ${LOCKED_DOWN_SID}) and no policy but its own profile policy is left on it. ` +
        `Take off what is no longer needed and the ${LOCKED_DOWN_SID} statement, then retry.`,
      'RoleLockedDown',
      false,
    );
  }

  /**
   * Detaches the managed policies and deletes the inline policies given, but those that only deny (AWSDenyAll;
   * another's Deny-only policy, such as a responder's "Revoke active sessions"): they only narrow the role, and
   * stay. Each removal is safe to repeat. `inline`: the inline policies to take off, with their documents as read.
   */
  private async takeOff(s: Session, name: string, managedArns: readonly string[], inline: ReadonlyMap<string, unknown>): Promise<void> {
    for (const arn of managedArns) if (!isDenyOnlyManaged(arn)) await this.writeTolerant(s, detachCall(name, arn));
    for (const [policyName, doc] of inline) if (!onlyDenies(doc)) await this.writeTolerant(s, deleteInlineCall(name, policyName));
  }

  /** A role locked down (withinLimits) is left as it is by every write, until a person takes the lock out of its trust. */
  private assertNotLockedDown(s: Session, roleName: string, trust: unknown): void {
    if (!isLockedDown(trust)) return;
    throw new ProvisioningError(
      `Role ${roleName} in account ${s.account.id} is locked down (statement ${LOCKED_DOWN_SID} in its trust): it admits nobody, and rolegate changes nothing on it until a person takes that statement out.`,
      'RoleLockedDown',
      false,
    );
  }

  /** An inline policy's document, parsed; undefined when the role has no policy of that name. */
  private async inlinePolicy(s: Session, roleName: string, policyName: string): Promise<unknown> {
    try {
      const got = await this.call(s, 'GetRolePolicy', () => s.iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName })));
      return parsePolicy(got.PolicyDocument);
    } catch (e) {
      if (isNoSuchEntity(e)) return undefined;
      throw e;
    }
  }

  /** IAM is eventually consistent: the trust written must be the trust read before access is handed out. */
  private async readBack(s: Session, roleName: string, trust: PolicyDocument): Promise<void> {
    await this.untilConsistent(
      async () => {
        const role = await this.getRole(s, roleName);
        return role !== undefined && samePolicy(parsePolicy(role.AssumeRolePolicyDocument), trust);
      },
      `IAM in account ${s.account.id} does not yet show the trust policy written for ${roleName} after ${this.readBackAttempts} reads; it will be retried.`,
    );
  }

  private async attachedPolicies(s: Session, roleName: string): Promise<string[]> {
    const arns: string[] = [];
    let marker: string | undefined;
    do {
      const out = await this.call(s, 'ListAttachedRolePolicies', () =>
        s.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) })),
      );
      arns.push(...(out.AttachedPolicies ?? []).flatMap((p) => (p.PolicyArn ? [p.PolicyArn] : [])));
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return arns.sort();
  }

  private async inlinePolicies(s: Session, roleName: string): Promise<string[]> {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const out = await this.call(s, 'ListRolePolicies', () => s.iam.send(new ListRolePoliciesCommand({ RoleName: roleName, ...(marker ? { Marker: marker } : {}) })));
      names.push(...(out.PolicyNames ?? []));
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return names.sort();
  }
}

/** The tag keys rolegate writes: any other (a `rolegate:team` added by hand too) is not rolegate's. */
const OWN_TAG_KEYS: ReadonlySet<string> = new Set([MANAGED_TAG.Key, ...Object.values(TAG_KEYS)]);

/** The keys of tags that are not rolegate's, sorted; none: absent. */
function otherTagKeysOf(role: Role): { otherTagKeys?: string[] } {
  const keys = (role.Tags ?? []).flatMap((t) => (t.Key === undefined || OWN_TAG_KEYS.has(t.Key) ? [] : [t.Key])).sort();
  return keys.length > 0 ? { otherTagKeys: keys } : {};
}

/** The request ids a role's rolegate:requests tag names (`+N ` and other words that are no request id left out). */
function requestIdsOf(role: Role): { requestIds?: string[] } {
  const value = role.Tags?.find((t) => t.Key === TAG_KEYS.requests)?.Value;
  return value === undefined ? {} : { requestIds: value.split(' ').filter((word) => REQUEST_ID.test(word)) };
}
