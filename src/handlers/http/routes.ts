import type { RequestStatus } from '../../domain/model';
import { cancelRequest } from '../../domain/use-cases/cancelRequest';
import { createRequest } from '../../domain/use-cases/createRequest';
import { decideRequest } from '../../domain/use-cases/decideRequest';
import { revokeRequest } from '../../domain/use-cases/endAccess';
import { getCatalog } from '../../domain/use-cases/getCatalog';
import { getRequest } from '../../domain/use-cases/getRequest';
import { listRequests } from '../../domain/use-cases/listRequests';
import type { ProvisioningDeps } from '../../domain/use-cases/provisionRequest';
import { retryRequest } from '../../domain/use-cases/retryRequest';
import { extendRequest } from '../../domain/use-cases/extendRequest';
import type { RouteDef } from './route';
import * as s from './schemas';
import type * as z from 'zod/mini';

type Deps = ProvisioningDeps;

/** A created request's own route. */
const requestLocation = (result: unknown): string => `/requests/${(result as { request: { id: string } }).request.id}`;

/** Every HTTP route of rolegate. serverless.yml declares the same set (a test keeps them equal). */
export const routes: RouteDef<Deps>[] = [
  {
    method: 'GET',
    path: '/health',
    summary: 'Liveness check',
    public: true,
    status: 200,
    response: 'Health',
    handle: () => ({ status: 'ok' }),
  },
  {
    method: 'GET',
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    public: true,
    status: 200,
    response: 'OpenApiDocument',
    // The document `npm run openapi` writes from these routes and their zod schemas (a test keeps it current),
    // loaded when first asked for: it depends on nothing else, and writing it would take the response schemas
    // and zod's JSON Schema writer into the function.
    handle: async () => (await import('../../../openapi.json')).default,
  },
  {
    method: 'GET',
    path: '/catalog',
    summary: 'What the caller may request: accounts × profiles, maximum durations and approvers',
    status: 200,
    response: 'Catalog',
    handle: (deps, { actor }) => ({ entries: getCatalog(deps.settings, actor) }),
  },
  {
    method: 'POST',
    path: '/requests',
    summary: 'Request temporary access to a target account',
    body: s.createRequestBody,
    bodyRequired: true,
    idempotent: true,
    status: 201,
    response: 'RequestReply',
    location: requestLocation,
    outcomes: [404, 409],
    handle: async (deps, { actor, body, idempotencyKey }) => {
      const b = body as z.output<typeof s.createRequestBody>;
      const request = await createRequest(deps, actor, {
        account: (b.accountId ?? b.account)!,
        profile: b.profile,
        durationMinutes: b.durationMinutes,
        reason: b.reason,
        ...(b.ticket ? { ticket: b.ticket } : {}),
        ...(b.principalArn !== undefined ? { principalArn: b.principalArn } : {}),
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      });
      return { request };
    },
  },
  {
    method: 'GET',
    path: '/requests',
    summary: 'List requests, newest first (mine, awaiting my decision, or all I may see)',
    query: s.listQuery,
    status: 200,
    response: 'RequestPage',
    handle: (deps, { actor, query }) => {
      const q = query as z.output<typeof s.listQuery>;
      return listRequests(deps, actor, {
        view: q.view,
        limit: q.limit,
        ...(q.status ? { status: q.status as RequestStatus } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      });
    },
  },
  {
    method: 'GET',
    path: '/requests/{id}',
    summary: 'A request with its decisions, audit timeline and (once active) access details',
    params: s.idParams,
    status: 200,
    response: 'RequestDetail',
    handle: (deps, { actor, params }) => getRequest(deps, actor, params.id!),
  },
  {
    method: 'POST',
    path: '/requests/{id}/approve',
    summary: 'Approve a pending request (an eligible approver, never the requester)',
    params: s.idParams,
    body: s.approveBody,
    status: 200,
    response: 'RequestReply',
    outcomes: [409],
    handle: async (deps, { actor, params, body }) => {
      const b = body as z.output<typeof s.approveBody>;
      return { request: await decideRequest(deps, actor, { requestId: params.id!, decision: 'APPROVE', ...(b.comment ? { comment: b.comment } : {}) }) };
    },
  },
  {
    method: 'POST',
    path: '/requests/{id}/deny',
    summary: 'Deny a pending request, with a reason',
    params: s.idParams,
    body: s.denyBody,
    bodyRequired: true,
    status: 200,
    response: 'RequestReply',
    outcomes: [409],
    handle: async (deps, { actor, params, body }) => {
      const b = body as z.output<typeof s.denyBody>;
      return { request: await decideRequest(deps, actor, { requestId: params.id!, decision: 'DENY', comment: b.comment }) };
    },
  },
  {
    method: 'POST',
    path: '/requests/{id}/cancel',
    summary: 'Cancel a pending request (the requester)',
    params: s.idParams,
    body: s.cancelBody,
    status: 200,
    response: 'RequestReply',
    outcomes: [409],
    handle: async (deps, { actor, params }) => ({ request: await cancelRequest(deps, actor, params.id!) }),
  },
  {
    method: 'POST',
    path: '/requests/{id}/revoke',
    summary: 'End access now (an approver, or the requester when done)',
    params: s.idParams,
    body: s.revokeBody,
    status: 200,
    response: 'RequestReply',
    outcomes: [409, 502],
    handle: async (deps, { actor, params, body }) => {
      const b = body as z.output<typeof s.revokeBody>;
      return { request: await revokeRequest(deps, actor, params.id!, b.comment) };
    },
  },
  {
    method: 'POST',
    path: '/requests/{id}/retry',
    summary: 'Send a FAILED request back to provisioning (an approver)',
    params: s.idParams,
    body: s.retryBody,
    status: 200,
    response: 'RequestReply',
    outcomes: [409],
    handle: async (deps, { actor, params, body }) => {
      const b = body as z.output<typeof s.retryBody>;
      return { request: await retryRequest(deps, actor, params.id!, b.comment) };
    },
  },
  {
    method: 'POST',
    path: '/requests/{id}/extend',
    summary: 'Ask to prolong live access: a linked request, decided under the same rules, that starts where the original ends',
    params: s.idParams,
    body: s.extendBody,
    bodyRequired: true,
    idempotent: true,
    status: 201,
    response: 'RequestReply',
    location: requestLocation,
    outcomes: [409],
    handle: async (deps, { actor, params, body, idempotencyKey }) => {
      const b = body as z.output<typeof s.extendBody>;
      return { request: await extendRequest(deps, actor, params.id!, { ...b, ...(idempotencyKey !== undefined ? { idempotencyKey } : {}) }) };
    },
  },
];
