import type * as z from 'zod/mini';
import type { Actor } from '../../domain/model';

export interface RouteInput {
  actor: Actor;
  params: Record<string, string>;
  body: unknown;
  query: unknown;
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
  status: number;
  handle(deps: D, input: RouteInput): Promise<unknown> | unknown;
}
