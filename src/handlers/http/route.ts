import type * as z from 'zod/mini';
import type { Actor } from '../../domain/model';

/** A success body's schema, by its name among the OpenAPI document's components (src/handlers/http/responses.ts). */
export type ResponseName = 'Health' | 'OpenApiDocument' | 'Catalog' | 'RequestReply' | 'RequestPage' | 'RequestDetail';

export interface RouteInput {
  actor: Actor;
  params: Record<string, string>;
  body: unknown;
  query: unknown;
  /** The Idempotency-Key header, validated, on a route that honours it (`idempotent`). */
  idempotencyKey?: string;
  correlationId: string;
}

/** One HTTP route: its place, its input schemas (also used for OpenAPI) and the use-case it calls. */
export interface RouteDef<D = unknown> {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  /** No authenticated caller needed (health, OpenAPI document). */
  public?: boolean;
  params?: z.ZodMiniType;
  query?: z.ZodMiniType;
  body?: z.ZodMiniType;
  bodyRequired?: boolean;
  /**
   * The route creates something and honours an Idempotency-Key header: a
   * retry with the same key (a timeout, a dropped connection) answers with
   * what the first call made instead of making it again.
   */
  idempotent?: true;
  status: number;
  /**
   * The success body's shape, by name: the OpenAPI document's, checked against every reply in the
   * tests. A name, so the response schemas stay out of the functions (they serve the written document).
   */
  response: ResponseName;
  /** Where what a 201 made lives, for its Location header. */
  location?: (result: unknown) => string;
  /**
   * What the use-case may answer besides what the route's shape implies (400 for
   * input, 401/403 unless public, 404 with an id, 413/415 with a body, 500):
   * 404 for an unknown account or profile named in the body, 409 when the request's state forbids the
   * action, 502 when AWS refuses a change made at once.
   */
  outcomes?: readonly (404 | 409 | 502)[];
  handle(deps: D, input: RouteInput): Promise<unknown> | unknown;
}
