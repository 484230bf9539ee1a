import type { APIGatewayProxyEventV2WithRequestContext, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Actor } from '../../domain/model';

/** The parts of the API Gateway v2 request context rolegate reads (IAM or JWT authorizer). */
export interface HttpRequestContext {
  requestId: string;
  routeKey: string;
  http: { method: string; path: string; sourceIp?: string; userAgent?: string };
  authorizer?: {
    iam?: { userArn?: string; accountId?: string; userId?: string };
    jwt?: { claims?: Record<string, string | number | boolean | string[]> };
  };
}

export type HttpEvent = APIGatewayProxyEventV2WithRequestContext<HttpRequestContext>;
export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string; headers: Record<string, string> };

/** What the middlewares add for route handlers. */
export interface HttpInput {
  event: HttpEvent;
  context: Context;
  correlationId: string;
  actor: Actor;
  params: Record<string, string>;
  body: unknown;
}
