import type { AccessRequest, Actor, AuditAction, AuditEvent, EventActor, EventSource, NotificationKind, RequestStatus } from './model';

/*
 * Named constructors for audit events. Events are written once, in the same
 * transaction as the state they explain, and never updated.
 */

interface EventInput {
  id: string;
  at: string;
  actor: string;
  actorPerson?: string;
  source?: EventSource;
  comment?: string;
  data?: Record<string, unknown>;
  notify?: NotificationKind;
}

/**
 * Who an event names: the principal (as rolegate compares it, so the caller's
 * role rather than its session) and, where the sign-in names one, the person
 * behind it, so every person-made change can be traced to the person.
 */
/** The caller's principal (as rolegate compares it) with the person and the source the actor's sign-in gave. */
export function eventActor(principalArn: string, actor: Actor): EventActor {
  return { arn: principalArn, person: actor.person, source: actor.source };
}

export function actedBy(by: EventActor): Pick<EventInput, 'actor' | 'actorPerson' | 'source'> {
  return { actor: by.arn, ...(by.person !== undefined ? { actorPerson: by.person } : {}), ...(by.source !== undefined ? { source: by.source } : {}) };
}

function event(action: AuditAction, request: Pick<AccessRequest, 'id'>, input: EventInput, from?: RequestStatus, to?: RequestStatus): AuditEvent {
  return {
    id: input.id,
    requestId: request.id,
    at: input.at,
    actor: input.actor,
    ...(input.actorPerson !== undefined ? { actorPerson: input.actorPerson } : {}),
    ...(input.source !== undefined ? { source: input.source } : {}),
    action,
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(input.comment !== undefined ? { comment: input.comment } : {}),
    ...(input.data ? { data: input.data } : {}),
    ...(input.notify ? { notify: input.notify } : {}),
  };
}

export const audit = {
  requested: (r: AccessRequest, i: EventInput) => event('REQUESTED', r, i, undefined, 'PENDING'),
  approvalRecorded: (r: AccessRequest, i: EventInput) => event('APPROVAL_RECORDED', r, i, 'PENDING', 'PENDING'),
  approved: (r: AccessRequest, i: EventInput) => event('APPROVED', r, i, 'PENDING', 'APPROVED'),
  autoApproved: (r: AccessRequest, i: EventInput) => event('AUTO_APPROVED', r, i, 'PENDING', 'APPROVED'),
  denied: (r: AccessRequest, i: EventInput) => event('DENIED', r, i, 'PENDING', 'DENIED'),
  cancelled: (r: AccessRequest, i: EventInput) => event('CANCELLED', r, i, 'PENDING', 'CANCELLED'),
  timedOut: (r: AccessRequest, i: EventInput) => event('TIMED_OUT', r, i, 'PENDING', 'TIMED_OUT'),
  provisioned: (r: AccessRequest, i: EventInput) => event('PROVISIONED', r, i, r.status, 'ACTIVE'),
  /** An attempt failed and the request stays APPROVED, to be tried again. */
  provisioningAttemptFailed: (r: AccessRequest, i: EventInput) => event('PROVISIONING_ATTEMPT_FAILED', r, i),
  provisioningFailed: (r: AccessRequest, i: EventInput) => event('PROVISIONING_FAILED', r, i, r.status, 'FAILED'),
  retryRequested: (r: AccessRequest, i: EventInput) => event('RETRY_REQUESTED', r, i, 'FAILED', 'APPROVED'),
  revoked: (r: AccessRequest, i: EventInput) => event('REVOKED', r, i, r.status, 'REVOKED'),
  expired: (r: AccessRequest, i: EventInput) => event('EXPIRED', r, i, r.status, 'EXPIRED'),
  accessRemoved: (r: AccessRequest, i: EventInput) => event('ACCESS_REMOVED', r, i),
  /** An attempt to end the access failed after it had written to IAM: what it wrote, as nothing else would say. */
  accessRemovalAttemptFailed: (r: AccessRequest, i: EventInput) => event('ACCESS_REMOVAL_ATTEMPT_FAILED', r, i),
  /** The request ended, but its role could not be reached to delete: an administrator owes the IAM cleanup. */
  accessRemovalOwed: (r: AccessRequest, i: EventInput) => event('ACCESS_REMOVAL_OWED', r, i),
  driftDetected: (r: AccessRequest, i: EventInput) => event('DRIFT_DETECTED', r, i),
  driftRepaired: (r: AccessRequest, i: EventInput) => event('DRIFT_REPAIRED', r, i),
  notificationFailed: (r: AccessRequest, i: EventInput) => event('NOTIFICATION_FAILED', r, i),
  /** On the original's trail, written with the extension's creation: who asked to extend it, when, why, and which request carries it. */
  extensionRequested: (original: Pick<AccessRequest, 'id'>, i: EventInput) => event('EXTENSION_REQUESTED', original, i),
};
