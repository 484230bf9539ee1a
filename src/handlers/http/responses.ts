import * as z from 'zod/mini';
import { AUDIT_ACTIONS, REQUEST_STATUSES, NOTIFICATION_KINDS, type AccessRequest, type AuditEvent, type Decision } from '../../domain/model';
import type { CatalogEntry } from '../../domain/rules';
import type { ResponseName } from './route';

/*
 * The shapes the HTTP API answers with, for the OpenAPI document (named
 * components a client generator can type). Objects are strict: the test
 * helper that calls the API parses every success body with its route's
 * schema, so a field the API adds or drops without a change here fails the
 * suite instead of reaching clients undocumented.
 */

const instant = z.iso.datetime({ message: 'must be an ISO 8601 UTC instant' });
const arn = z.string();
const opt = z.optional;


export const accessDetails = z.strictObject({
  roleArn: arn,
  accountId: z.string(),
  roleName: z.string(),
  switchRoleUrl: z.string(),
  cliProfile: z.string(),
  endsAt: instant,
  note: z.string(),
});

export const accessRequest = z.strictObject({
  id: z.string(),
  version: z.int(),
  status: z.enum(REQUEST_STATUSES),
  requester: arn,
  requesterPerson: opt(z.string()),
  principalArn: arn,
  principalSession: opt(z.string()),
  accountId: z.string(),
  accountAlias: z.string(),
  profile: z.string(),
  ruleId: z.string(),
  durationMinutes: z.int(),
  reason: z.string(),
  ticket: opt(z.string()),
  approvalsRequired: z.int(),
  approvals: z.array(arn),
  approverPersons: opt(z.array(z.string())),
  createdAt: instant,
  updatedAt: instant,
  decisionDeadline: instant,
  approvedAt: opt(instant),
  endsAt: opt(instant),
  grantKey: opt(z.string()),
  access: opt(accessDetails),
  failure: opt(z.strictObject({ code: z.string(), message: z.string(), at: instant, retryable: z.boolean() })),
  extendsRequestId: opt(z.string()),
  plan: opt(z.array(z.strictObject({ service: z.enum(['sts', 'iam']), command: z.string(), input: z.record(z.string(), z.unknown()) }))),
  provisioningAttempts: opt(z.int()),
  sweepRetry: opt(
    z.strictObject({ kind: z.enum(['EXPIRE', 'TIMEOUT']), attempts: z.int(), lastAttemptAt: instant, lastError: z.string(), nextAttemptAt: instant }),
  ),
  endedAt: opt(instant),
});

export const decision = z.strictObject({
  requestId: z.string(),
  approver: arn,
  person: opt(z.string()),
  decision: z.enum(['APPROVE', 'DENY']),
  comment: opt(z.string()),
  at: instant,
  via: z.enum(['api', 'slack']),
});

export const auditEvent = z.strictObject({
  id: z.string(),
  requestId: z.string(),
  at: instant,
  actor: z.string(),
  actorPerson: opt(z.string()),
  source: opt(
    z.strictObject({
      via: z.enum(['api', 'slack']),
      session: opt(z.string()),
      sourceIp: opt(z.string()),
      userAgent: opt(z.string()),
      apiRequestId: opt(z.string()),
      slackUser: opt(z.string()),
    }),
  ),
  action: z.enum(AUDIT_ACTIONS),
  from: opt(z.enum(REQUEST_STATUSES)),
  to: opt(z.enum(REQUEST_STATUSES)),
  comment: opt(z.string()),
  data: opt(z.record(z.string(), z.unknown())),
  notify: opt(z.enum(NOTIFICATION_KINDS)),
});

export const catalogEntry = z.strictObject({
  accountId: z.string(),
  accountAlias: z.string(),
  accountName: opt(z.string()),
  profile: z.string(),
  description: z.string(),
  maxDurationMinutes: z.int(),
  approvers: z.array(z.string()),
  approvalsRequired: z.int(),
  autoApprove: z.boolean(),
  requireMfa: z.boolean(),
  rule: z.string(),
});

export const healthReply = z.strictObject({ status: z.literal('ok') });
export const openApiReply = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });
export const requestReply = z.strictObject({ request: accessRequest });
export const requestPage = z.strictObject({
  items: z.array(accessRequest),
  cursor: opt(z.string()),
});
export const requestDetail = z.strictObject({ request: accessRequest, decisions: z.array(decision), events: z.array(auditEvent) });
export const catalogReply = z.strictObject({ entries: z.array(catalogEntry) });

/** The named components of the OpenAPI document, nested ones first; every route's `response` names one. */
export const RESPONSE_COMPONENTS: Record<ResponseName | 'AccessDetails' | 'AccessRequest' | 'Decision' | 'AuditEvent' | 'CatalogEntry', z.ZodMiniType> = {
  AccessDetails: accessDetails,
  AccessRequest: accessRequest,
  Decision: decision,
  AuditEvent: auditEvent,
  CatalogEntry: catalogEntry,
  Health: healthReply,
  OpenApiDocument: openApiReply,
  RequestReply: requestReply,
  RequestPage: requestPage,
  RequestDetail: requestDetail,
  Catalog: catalogReply,
};

// The domain's types and these shapes stay one: a field added to either without the other fails to compile.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? ([keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false) : false) : false;
const exact = <T extends true>(): T => true as T;
exact<Exact<z.output<typeof accessRequest>, AccessRequest>>();
exact<Exact<z.output<typeof decision>, Decision>>();
exact<Exact<z.output<typeof auditEvent>, AuditEvent>>();
exact<Exact<z.output<typeof catalogEntry>, CatalogEntry>>();
