import { atColdStart, bootLogger } from '../compose';
import { NotFoundError } from '../domain/errors';
import { errorResponse } from './http/errors';
import type { HttpEvent, HttpResult } from './http/types';
import { slackApp } from './slack/app';

/** This cold start's app and its Slack endpoints (none without a slack section), built as the function loads. */
const ready = atColdStart((app) => ({
  app,
  slack: app.slack
    ? slackApp({ settings: app.deps.settings, ...app.slack, slack: app.slack.api, logger: app.logger, ...(app.deps.metrics ? { metrics: app.deps.metrics } : {}), now: () => app.deps.clock.now(), ...(app.runSlackJobInProcess ? { runInProcess: app.runSlackJobInProcess } : {}) })
    : undefined,
}));

/** Lambda entry point of Slack's slash command and interactivity endpoints (no IAM auth: Slack signs). */
export async function handler(event: HttpEvent): Promise<HttpResult> {
  let loaded: Awaited<ReturnType<typeof ready>>;
  try {
    loaded = await ready();
  } catch (e) {
    // The app did not load (a configuration that does not validate): Slack is answered 500, the log gets the reason.
    return errorResponse(e, event.requestContext?.requestId ?? 'slack', bootLogger());
  }
  const { app, slack } = loaded;
  if (!slack) return errorResponse(new NotFoundError('Slack is not configured (no slack section in the configuration).'), event.requestContext?.requestId ?? 'slack', app.logger);
  try {
    return await slack(event);
  } finally {
    app.flushMetrics();
  }
}
