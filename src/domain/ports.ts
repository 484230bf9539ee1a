import type { AccountSettings, Profile } from './settings';
import type { AccessRequest, AuditAction, AuditEvent, Decision, Grant, NotificationKind, PlannedCall, RequestStatus } from './model';
import type { Principal } from './principal';

/* Ports: what the domain needs from the outside world. Adapters in
 * src/adapters implement them; src/compose.ts wires them once per cold start. */

export interface Clock {
  now(): Date;
}

export interface Ids {
  /** A new, unique, time-ordered id. */
  next(): string;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

/** One atomic write of a request: its next state, the audit events that explain it, and at most one decision. */
export interface RequestWrite {
  /** The next state. Its `version` must be `expectedVersion + 1` (or 1 on create). */
  request: AccessRequest;
  /** The version read before deciding; absent when the request is created. */
  expectedVersion?: number;
  /** A decision to record; refused (ConflictError) if this approver already decided. */
  decision?: Decision;
  events: AuditEvent[];
  /**
   * Grants an extension only while the request it extends is not REVOKED:
   * checked in the same transaction, so a revocation that commits first
   * always wins (ConflictError).
   */
  unlessRevoked?: string;
  /**
   * Creating only: the client's idempotency key, claimed for the requester
   * (its principal and, when known, its person: one role many people sign in
   * through is not one key space) in the same transaction for
   * IDEMPOTENCY_HOURS. A live claim of the same key by the same claimant
   * refuses the write (ConflictError); `claimed` then names the request it made.
   */
  claim?: string;
}

/** Who claims an idempotency key: the requester's principal, and the person signed in through it when known. */
export interface Claimant {
  requester: string;
  person?: string;
}

export const claimantOf = (r: Pick<AccessRequest, 'requester' | 'requesterPerson'>): Claimant => ({ requester: r.requester, ...(r.requesterPerson !== undefined ? { person: r.requesterPerson } : {}) });

/** How long an idempotency key names the request it made. */
export const IDEMPOTENCY_HOURS = 24;

export type DueKind = 'TIMEOUT' | 'EXPIRE' | 'PROVISION';

export interface ListQuery {
  status?: RequestStatus;
  /** Only requests made by this canonical ARN. */
  requester?: string;
  limit: number;
  cursor?: string;
}

export interface RequestDetail {
  request: AccessRequest;
  decisions: Decision[];
  events: AuditEvent[];
}

export interface RequestStore {
  /**
   * Writes the request, its events and decision in one transaction, under a
   * condition on the expected version (or on absence when creating).
   * Throws StaleWriteError when the request changed since it was read (or
   * another write held one of the items, which checked nothing: its `why` is
   * `contended`), and ConflictError when the approver already decided.
   */
  commit(write: RequestWrite): Promise<void>;
  /** A consistent read of the stored request. */
  get(id: string): Promise<AccessRequest | undefined>;
  /**
   * The request as this process last committed or read it, from memory
   * (no call), or undefined. It may be stale: use it only for a
   * read-decide-write whose commit conditions on `expectedVersion`, which
   * then fails as StaleWriteError unless the snapshot is still exact (every
   * write of a request raises its version). Absent: no memory.
   */
  snapshot?(id: string): AccessRequest | undefined;
  getDetail(id: string): Promise<RequestDetail | undefined>;
  /** Newest first. */
  list(query: ListQuery): Promise<Page<AccessRequest>>;
  /**
   * The requests that extend this one directly, in any status, read from the
   * sparse byExtends index: eventually consistent, and as many as there are
   * (one query per 100). Its cost follows the extensions, not the
   * requester's history.
   */
  extensionsOf(id: string): Promise<AccessRequest[]>;
  /**
   * Requests with due work before `before`, oldest due first, read from the
   * due index (never a scan): PENDING past their deadline (TIMEOUT), ACTIVE
   * past their end (EXPIRE), APPROVED or retry-requested FAILED awaiting
   * provisioning (PROVISION).
   */
  listDue(kind: DueKind, before: string, limit: number, cursor?: string): Promise<Page<AccessRequest>>;
  /** Audit events that change no state (a failed notification, drift found). */
  appendEvents(events: AuditEvent[]): Promise<void>;
  /**
   * Audit events that change no state, written only while the request is
   * still at the version given, in one transaction with that check: none are
   * written, and nothing is said, once it has moved on.
   */
  appendEventsWhileAt(events: AuditEvent[], at: Pick<AccessRequest, 'id' | 'version'>): Promise<void>;
  /**
   * Audit events of a finding that may be found again and again (drift, at
   * every reconciliation): written, with a record of `report`, unless the same
   * finding (its subject and fingerprint) was written within its quiet hours
   * and seen without a lapse since; true when written. Both or neither. A
   * finding kept quiet is recorded as seen.
   */
  appendReport(events: AuditEvent[], report: Report): Promise<boolean>;
  /** The id of the request the claimant made under idempotency key `key`, if that claim is still live at `at` (a consistent read). */
  claimed(claimant: Claimant, key: string, at: string): Promise<string | undefined>;
}

/** A finding, as appendReport keeps it quiet. */
export interface Report {
  /** What it is about (an account's role). */
  subject: string;
  /** What was found: another fingerprint is a new finding. */
  fingerprint: string;
  at: string;
  /** How long the same finding stays unwritten after it was written. */
  quietHours: number;
  /** A finding not seen for this long is new when seen again (it went away and came back). */
  lapseMinutes: number;
}

/** A held lease on one grant key; changes to a grant key are serialised through it. */
export interface GrantLease {
  grantKey: string;
  owner: string;
  /** The lease lapses at this instant unless released or renewed. */
  until: string;
  /** The grant as stored when the lease was taken (undefined: no grant yet). */
  grant: Grant | undefined;
}

export interface GrantStore {
  /**
   * Takes the lease on a grant key until `until`, if nobody else holds an
   * unexpired one. Returns undefined when another owner holds it.
   */
  acquire(grantKey: string, owner: string, until: string, now: string): Promise<GrantLease | undefined>;
  /** Saves the grant; refused (ConflictError) unless the caller still holds the lease. */
  save(lease: GrantLease, grant: Grant): Promise<void>;
  /** Deletes the grant; refused (ConflictError) unless the caller still holds the lease. */
  remove(lease: GrantLease): Promise<void>;
  /** Gives the lease back (no error if it already expired). */
  release(lease: GrantLease): Promise<void>;
  get(grantKey: string): Promise<Grant | undefined>;
  /** Every grant in a target account (reconciliation). */
  listByAccount(accountId: string): Promise<Grant[]>;
}

/** The desired state of one grant's role in a target account. */
export interface GrantSpec {
  grantKey: string;
  account: AccountSettings;
  profile: Profile;
  principal: Principal;
  roleName: string;
  /** Latest end over the live requests covering the grant. */
  endsAt: string;
  /** Live requests covering the grant (tags and audit). */
  requestIds: string[];
  /** Adds an sts:ExternalId condition to the trust (workload principals). */
  externalId?: string;
  /** A personal grant: the trust admits only the principal role's sessions of this name (aws:userid). */
  session?: string;
  partition: string;
}

export interface ProvisionOutcome {
  roleArn: string;
  /** Calls made (or, dry-run, that would be made). */
  calls: PlannedCall[];
}

/** Target-account side: the cross-account role, its permissions and its trust. */
export interface RemoveOptions {
  /** No grant records a role of this name: one rolegate does not manage is left alone. */
  unrecorded?: boolean;
  /** The failed attempt being undone sent this role's CreateRole: "no such role" is read again before it is believed (IAM's reads lag). */
  justCreated?: boolean;
}

export interface ApplyOptions {
  existingOnly?: boolean;
}

export interface Provisioner {
  /**
   * Brings the grant's role to the desired state; idempotent. Throws ProvisioningError. With
   * `existingOnly`, a missing role stays missing (RoleMissing, not retryable): narrowing a grant or
   * repairing drift never brings back a role someone deleted, perhaps on purpose in an incident.
   */
  apply(spec: GrantSpec, requestId: string, options?: ApplyOptions): Promise<ProvisionOutcome>;
  /**
   * Detaches and deletes the role's policies and the role; idempotent (absent role is fine). A role
   * rolegate does not manage is refused (RoleNotManaged), unless `unrecorded`: no grant records a role
   * there, so one of that name that rolegate does not manage was never rolegate's, and is left alone.
   */
  remove(account: AccountSettings, roleName: string, requestId: string, options?: RemoveOptions): Promise<PlannedCall[]>;
  /**
   * The names of the roles under rolegate's path in an account, for reconciliation: a listing only, each
   * role then read (describeManagedRole) when its turn comes, so a run with hundreds of roles in one account
   * keeps to its time and one role it cannot read fails alone.
   */
  listManagedRoleNames?(account: AccountSettings): Promise<string[]>;
  /** One role read afresh (undefined if absent): reconciliation confirms drift before it reports it. */
  describeManagedRole?(account: AccountSettings, roleName: string): Promise<ManagedRoleState | undefined>;
}

/** A role under rolegate's path as IAM holds it: everything reconciliation compares with the desired role. */
export interface ManagedRoleState {
  roleName: string;
  roleArn: string;
  managedByRolegate: boolean;
  /** Set when the role is not under /rolegate/ (then neither rolegate's nor readable by its provisioner role). */
  outsidePath?: string;
  trustPolicy: unknown;
  attachedPolicyArns: string[];
  /** Inline policies by name, each with its document as IAM holds it (parsed). */
  inlinePolicies: Record<string, unknown>;
  permissionsBoundaryArn?: string;
  maxSessionDuration: number;
  /** The request ids its `rolegate:requests` tag names (the newest, as many as the tag holds): which deployment's requests made it. */
  requestIds?: string[];
  /** The keys of the tags it carries that are not rolegate's (`managed-by`, `rolegate:*`): added by hand. */
  otherTagKeys?: string[];
}

/** Identity-account side: sts:AssumeRole (and sts:SetSourceIdentity) for the principal on exactly the grant's role. */
export interface IdentityGranter {
  grant(principal: Principal, roleArn: string, endsAt: string, grantKey: string): Promise<PlannedCall[]>;
  revoke(principal: Principal, grantKey: string): Promise<PlannedCall[]>;
}

/** Hands an APPROVED request to the provisioning worker (a stream in AWS, in-process locally). */
export interface ProvisioningQueue {
  enqueue(requestId: string): Promise<void>;
}

export type { NotificationKind };

export interface Notification {
  /** The audit event it announces: the same id on every delivery, so receivers can drop repeats. */
  id?: string;
  kind: NotificationKind;
  /** What the audit trail calls the change: APPROVED, AUTO_APPROVED or RETRY_REQUESTED for a `request.approved`. */
  action?: AuditAction;
  request: AccessRequest;
  actor: string;
  comment?: string;
  at: string;
}

/** Slack, webhooks. A failure is logged and audited by the caller, never rolled back into state. */
export interface Notifier {
  notify(notification: Notification): Promise<void>;
}

/** Structured logging. User-supplied text goes in fields, never spliced into the message. */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Keys added to every line until cleared (correlation id, request id). */
  setCorrelation?(fields: Record<string, string> | undefined): void;
}

export type MetricName =
  | 'RequestCreated'
  | 'ApprovalRecorded'
  | 'RequestApproved'
  | 'RequestDenied'
  | 'GrantActivated'
  | 'ProvisioningFailed'
  | 'AccessEnded'
  | 'SweepDuration'
  | 'SweepItems'
  | 'ExpiryFailed'
  | 'SweepStepFailed'
  /** The sweeper stopped waiting for a busy grant to keep its time (not a failure; the item stays due). */
  | 'SweepOutOfTime'
  /** A revocation committed but could not end one of its extensions yet (alarmed). */
  | 'RevocationIncomplete'
  | 'DriftFound'
  /** The reconciler stopped before its last account to keep its time (the next runs start elsewhere). */
  | 'ReconcileCutShort'
  /** An account, a grant or a role the reconciler could not check (alarmed): drift there goes unseen until a run succeeds. */
  | 'ReconcileFailed'
  /** A notification (Slack, a webhook) not delivered; audited as NOTIFICATION_FAILED (alarmed): approvers may never hear of a request. */
  | 'NotificationFailed'
  /** Access ended, but its role could not be deleted (its account left the configuration): an administrator owes the cleanup (alarmed). */
  | 'RemovalOwed'
  /** A Slack action failed on rolegate's side (IAM refused a revoke, an unexpected error): what the API would answer 5xx to (alarmed). */
  | 'SlackJobFailed'
  /** A Slack action's answer could not be posted to its response_url (the work is done): the user was not told the outcome. */
  | 'SlackReplyUndelivered'
  /** A stream record the worker sent back for retry after a crash; after the stream's retries it goes to the dead-letter queue. */
  | 'WorkerRecordFailed'
  /** A call to the Slack endpoints refused for its signature (a probe, or a signing secret that is not Slack's: a rotation not yet in SSM). */
  | 'SlackSignatureRefused';

/** Operational metrics (CloudWatch embedded metric format in AWS). */
export interface Metrics {
  count(name: MetricName, value?: number): void;
  milliseconds(name: MetricName, value: number): void;
}
