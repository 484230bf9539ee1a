import type { AccountSettings } from './settings';

/** The longest access any rule may allow (`rules[].maxDurationMinutes`): 30 days. */
export const MAX_RULE_MINUTES = 60 * 24 * 30;

/** The lifecycle of a request; see DESIGN.md and src/domain/state-machine.ts. */
export const REQUEST_STATUSES = [
  'PENDING',
  'APPROVED',
  'ACTIVE',
  'DENIED',
  'CANCELLED',
  'TIMED_OUT',
  'FAILED',
  'EXPIRED',
  'REVOKED',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** What a requester needs to use a grant. */
export interface AccessDetails {
  roleArn: string;
  accountId: string;
  roleName: string;
  switchRoleUrl: string;
  cliProfile: string;
  endsAt: string;
  note: string;
}

/** One call rolegate would send to AWS, recorded by the dry-run provisioner. */
export interface PlannedCall {
  service: 'sts' | 'iam';
  command: string;
  input: Record<string, unknown>;
}

export interface FailureInfo {
  code: string;
  message: string;
  at: string;
  retryable: boolean;
}

export interface AccessRequest {
  id: string;
  /** Incremented by every write; the store's optimistic-concurrency guard. */
  version: number;
  status: RequestStatus;
  /** Canonical ARN of the caller who asked. */
  requester: string;
  /** The person who asked, when the sign-in named one (Actor.person). */
  requesterPerson?: string;
  /** Canonical ARN of the principal that receives access (the requester, or a workload role). */
  principalArn: string;
  /**
   * A personal grant (provisioner.personalGrants): the Identity Center user
   * name, as the requester's session showed it, that the role's trust admits
   * alone among the sessions of the principal role. Absent: every session of
   * the principal may assume the role.
   */
  principalSession?: string;
  accountId: string;
  accountAlias: string;
  profile: string;
  ruleId: string;
  durationMinutes: number;
  reason: string;
  ticket?: string;
  approvalsRequired: number;
  /** Canonical ARNs of the approvers so far (the decision items are the record). */
  approvals: string[];
  /** The persons behind those approvals, for those whose sign-in named one. */
  approverPersons?: string[];
  createdAt: string;
  updatedAt: string;
  /** A pending request times out at this instant. */
  decisionDeadline: string;
  approvedAt?: string;
  /** Set on approval: access ends here (and IAM refuses the role after it). */
  endsAt?: string;
  /** Target-account role this request's access lives in (account#roleName). */
  grantKey?: string;
  access?: AccessDetails;
  failure?: FailureInfo;
  /** The request this one extends (POST /requests/{id}/extend). */
  extendsRequestId?: string;
  /** Dry-run provisioning: the calls that would have been sent. */
  plan?: PlannedCall[];
  /** Attempts made by the provisioning worker for the current approval. */
  provisioningAttempts?: number;
  /** The sweeper's failed attempts at this request's expiry or timeout, and when it tries again. */
  sweepRetry?: SweepRetry;
  endedAt?: string;
}

/**
 * A sweep step that keeps failing is put off, not dropped: the due index
 * files the request at `nextAttemptAt`, behind work due earlier, so it
 * cannot hold the head of the queue and every later expiry behind it.
 */
export interface SweepRetry {
  /** The due work that failed; only that work is put off. */
  kind: 'EXPIRE' | 'TIMEOUT';
  attempts: number;
  lastAttemptAt: string;
  lastError: string;
  nextAttemptAt: string;
}

export type DecisionKind = 'APPROVE' | 'DENY';

export interface Decision {
  requestId: string;
  approver: string;
  /** The person who decided, when the sign-in named one. */
  person?: string;
  decision: DecisionKind;
  comment?: string;
  at: string;
  via: 'api' | 'slack';
}

export const AUDIT_ACTIONS = [
  'REQUESTED',
  'APPROVAL_RECORDED',
  'APPROVED',
  'AUTO_APPROVED',
  'DENIED',
  'CANCELLED',
  'TIMED_OUT',
  'PROVISIONED',
  'PROVISIONING_ATTEMPT_FAILED',
  'PROVISIONING_FAILED',
  'RETRY_REQUESTED',
  'REVOKED',
  'EXPIRED',
  'ACCESS_REMOVED',
  'ACCESS_REMOVAL_ATTEMPT_FAILED',
  'ACCESS_REMOVAL_OWED',
  'DRIFT_DETECTED',
  'DRIFT_REPAIRED',
  'NOTIFICATION_FAILED',
  'EXTENSION_REQUESTED',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** An immutable audit record: who did what, when, from which state to which, and why. */
/** What people are told about; carried by the audit event of the change it announces. */
export const NOTIFICATION_KINDS = [
  'request.created',
  'request.approval_recorded',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.timed_out',
  'request.active',
  'request.failed',
  'request.revoked',
  'request.expired',
  'drift.detected',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface AuditEvent {
  id: string;
  requestId: string;
  at: string;
  actor: string;
  /** The person behind the actor, when the sign-in named one (an Identity Center user behind its role). */
  actorPerson?: string;
  /** Where a person's change came from (absent on rolegate's own changes, and on events written before rolegate kept it). */
  source?: EventSource;
  action: AuditAction;
  from?: RequestStatus;
  to?: RequestStatus;
  comment?: string;
  data?: Record<string, unknown>;
  /**
   * The notification this change calls for. Written in the same transaction
   * as the change, so it is never lost: deployed, the worker sends it from
   * the table's stream (an outbox); locally it is sent in-line.
   */
  notify?: NotificationKind;
}

/**
 * The live access for one grant key (target account × role derived from
 * profile and principal). Several requests may cover it at once; access ends
 * only when none does (reference counting).
 */
export interface Grant {
  grantKey: string;
  accountId: string;
  roleName: string;
  principalArn: string;
  profile: string;
  /** requestId → end of that request's access. */
  members: Record<string, string>;
  roleArn?: string;
  /**
   * The target account's settings when the role was last written: the grant
   * can still be ended through its provisioner role after the account leaves
   * the configuration. Absent on grants written before rolegate kept them.
   */
  account?: AccountSettings;
  /**
   * The trust's terms when the role was last written (the workload's
   * ExternalId, if any): the role can still be compared and narrowed after
   * the rule that set them leaves the configuration. Absent on grants
   * written before rolegate kept them.
   */
  terms?: { externalId?: string; session?: string };
  /**
   * `aws` once any write of the role went to IAM (provisioner.mode aws), else
   * `dry-run`: a deployment switched to dry-run must not call a real role
   * removed. Absent on grants written before rolegate kept it.
   */
  mode?: 'aws' | 'dry-run';
  version: number;
  updatedAt: string;
}

/** The caller of a use-case, taken from the authenticated request context. */
export interface Actor {
  arn: string;
  /**
   * The person, where the sign-in names one rolegate can trust (principal.ts
   * callerIdentity, or the OIDC claim): an Identity Center user name, an
   * email. Compared besides the principal, never instead of it.
   */
  person?: string;
  /**
   * An Identity Center sign-in's session name as its ARN shows it, case kept
   * (principal.ts identityCenterSessionOf): what a personal grant pins.
   */
  sessionName?: string;
  via: 'api' | 'slack' | 'system';
  /** Where the call came from, as the authenticated request context has it (never a body field). */
  source?: EventSource;
}

/**
 * Where a person-made change came from, for the audit trail: what API
 * Gateway saw of the call, or the Slack user who acted. Shown in full only to
 * responders (getRequest): others see how the change came (`via`), not from
 * where.
 */
export interface EventSource {
  via: 'api' | 'slack';
  /** API: the caller as signed in, when it says more than the principal (an assumed-role session names its session). */
  session?: string;
  /** API: the client's address as API Gateway saw it. */
  sourceIp?: string;
  /** API: the client's User-Agent header, cut to 200 characters without control characters (the client says it; a hint, not proof). */
  userAgent?: string;
  /** API: API Gateway's request id, to find the call in its logs. */
  apiRequestId?: string;
  /** Slack: the Slack user who acted. */
  slackUser?: string;
}

export const SYSTEM_ACTOR: Actor = { arn: 'rolegate', via: 'system' };

/** Whom an audit event names: the principal as rolegate compares it, and the person where known. */
export type EventActor = Pick<Actor, 'arn' | 'person' | 'source'>;
