import { atColdStart } from '../compose';
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
  const { app, slack } = await ready();
  if (!slack) return errorResponse(new (await import('../domain/errors')).NotFoundError('Slack is not configured (no slack section in the configuration).'), event.requestContext?.requestId ?? 'slack', app.logger);
  try {
    return await slack(event);
  } finally {
    app.flushMetrics();
  }
}
