import { getApp } from '../compose';
import { httpApp } from './http/app';
import { routes } from './http/routes';

/** Lambda entry point of the HTTP API (API Gateway HTTP API, IAM authorization). */
const app = getApp();
export const handler = httpApp(routes, () => app.deps, app.logger, { localIdentity: app.env.localIdentity });
