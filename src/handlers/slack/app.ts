import { randomUUID } from 'node:crypto';
import type { SlackJob, DynamoSlackStore } from '../../adapters/dynamodb/slack-store';
import { commandReply, denyReasonModal, helpText } from '../../adapters/slack/blocks';
import { parseAccessCommand, parseInteraction, parseSlashCommand, type BlockAction } from '../../adapters/slack/commands';
import { APPROVE_ACTION_ID } from '../../adapters/slack/constants';
import type { SlackApi } from '../../adapters/slack/slack-client';
import { SlackSignatureError, verifySlackRequest } from '../../adapters/slack/signature';
import { RolegateError } from '../../domain/errors';
import type { Logger, Metrics } from '../../domain/ports';
import type { Settings } from '../../domain/settings';
import { errorResponse, json } from '../http/errors';
import type { HttpEvent, HttpResult } from '../http/types';

export const MAX_SLACK_BODY_BYTES = 64 * 1024;

export interface SlackAppDeps {
  settings: Settings;
  slack: SlackApi;
  store: DynamoSlackStore;
  signingSecret: () => Promise<string>;
  logger: Logger;
  /** Deployed: counts the calls refused for their signature. */
  metrics?: Metrics;
  now: () => Date;
  /** Local run: do the job in-process after acknowledging (deployed: the table's stream does). */
  runInProcess?: (job: SlackJob) => void;
}

const ok = (correlationId: string, body?: unknown): HttpResult =>
  body === undefined ? { statusCode: 200, headers: { 'x-correlation-id': correlationId }, body: '' } : json(200, body, correlationId);

/**
 * Slack's two endpoints. Every request is verified (v0 signature over the raw
 * body, five-minute window) before anything is parsed; a failure is a 401
 * that changes nothing. The answer comes at once; the work is a job, taken
 * once per trigger (a replay or a double click does nothing twice).
 */
export function slackApp(d: SlackAppDeps): (event: HttpEvent) => Promise<HttpResult> {
  const users = d.settings.slack?.users ?? {};
  const teams = d.settings.slack?.teamIds;
  return async (event) => {
    const correlationId = event.requestContext?.requestId || randomUUID();
    try {
      const raw = event.body ?? '';
      if (Buffer.byteLength(raw, event.isBase64Encoded ? 'base64' : 'utf8') > MAX_SLACK_BODY_BYTES) {
        throw new RolegateError('PAYLOAD_TOO_LARGE', 'The Slack payload is too large.');
      }
      const body = verifySlackRequest({
        headers: (event.headers ?? {}) as Record<string, string | undefined>,
        rawBody: raw,
        isBase64Encoded: event.isBase64Encoded ?? false,
        signingSecret: await d.signingSecret(),
        now: d.now(),
      });
      const path = event.rawPath ?? event.requestContext?.http?.path ?? '';
      const foreignTeam = (teamId: string) => teams !== undefined && !teams.includes(teamId);
      /** The principal of a Slack user of an allowed workspace; undefined for anyone else. */
      const principalOf = (userId: string, teamId: string) => (foreignTeam(teamId) ? undefined : users[userId]);
      const unmapped = (userId: string, teamId: string) => {
        if (foreignTeam(teamId)) {
          d.logger.warn('slack request from a workspace not in slack.teamIds', { teamId, userId });
          return commandReply(`This Slack workspace (${teamId}) is not one rolegate accepts (slack.teamIds), so nobody can act from it.`);
        }
        return commandReply(`Your Slack user (${userId}) is not linked to an AWS identity in rolegate's configuration, so you cannot act here. Ask an administrator to add it under slack.users.`);
      };

      const enqueue = async (work: Omit<SlackJob, 'createdAt'>): Promise<boolean> => {
        // Its time becomes the time part of the id of a request the job makes (the same on every run).
        const job: SlackJob = { ...work, createdAt: d.now().toISOString() };
        const fresh = await d.store.putJob(job);
        if (fresh) d.runInProcess?.(job);
        else d.logger.info('duplicate slack job ignored', { jobId: job.id });
        return fresh;
      };

      if (path.endsWith('/commands')) {
        const payload = parseSlashCommand(body);
        const principalArn = principalOf(payload.user_id, payload.team_id);
        if (!principalArn) return ok(correlationId, unmapped(payload.user_id, payload.team_id));
        const command = parseAccessCommand(payload.text, payload.command);
        if (command.kind === 'help') return ok(correlationId, helpText(payload.command));
        if (command.kind === 'invalid') return ok(correlationId, commandReply(`${command.message}\n${command.usage}`));
        const fresh = await enqueue({ id: `cmd:${payload.trigger_id}`, slackUserId: payload.user_id, principalArn, responseUrl: payload.response_url, work: { kind: 'command', command } });
        return ok(correlationId, fresh ? commandReply('Working on it…') : undefined);
      }

      if (path.endsWith('/interactions')) {
        const interaction = parseInteraction(body);
        if (interaction.type === 'ignored') return ok(correlationId);
        if (interaction.type === 'deny_reason_invalid') return ok(correlationId, interaction.response);
        if (interaction.type === 'block_action') {
          const a = interaction.action;
          const principalArn = principalOf(a.userId, a.teamId);
          if (!principalArn) {
            // Nothing was asked of rolegate: a reply that fails (the message's response_url expired) is logged, not a 5xx.
            await d.slack.postToResponseUrl(a.responseUrl, unmapped(a.userId, a.teamId)).catch((e: unknown) => {
              d.logger.warn('slack reply to an unlinked user failed', { correlationId, slackUser: a.userId, error: e instanceof Error ? e.message : String(e) });
            });
            return ok(correlationId);
          }
          if (a.actionId === APPROVE_ACTION_ID) {
            // One job per click (a replayed payload carries the same trigger id): a click after a failed one runs again.
            await enqueue({ id: `approve:${a.triggerId}`, slackUserId: a.userId, principalArn, responseUrl: a.responseUrl, work: { kind: 'approve', requestId: a.value } });
          } else {
            await openDenyForm(d, a, correlationId);
          }
          return ok(correlationId);
        }
        const s = interaction.submission;
        const principalArn = principalOf(s.userId, s.teamId);
        if (!principalArn || !s.origin?.responseUrl) {
          // The form closes either way: nothing is decided, and the log says so (the clicker was told why when it opened, if unlinked).
          d.logger.warn('slack deny form submitted but not acted on', { correlationId, slackUser: s.userId, requestId: s.requestId, why: principalArn ? 'the form names no message to answer' : 'the user is not linked to an AWS identity' });
          return ok(correlationId);
        }
        await enqueue({ id: `deny:${s.viewId}`, slackUserId: s.userId, principalArn, responseUrl: s.origin.responseUrl, work: { kind: 'deny', requestId: s.requestId, reason: s.reason } });
        return ok(correlationId);
      }
      throw new RolegateError('ROUTE_NOT_FOUND', `No Slack route ${path}.`);
    } catch (e) {
      if (e instanceof SlackSignatureError) d.metrics?.count('SlackSignatureRefused');
      // The endpoints are public: a refusal names where it came from, so probing leaves a trace.
      const sourceIp = event.requestContext?.http?.sourceIp;
      return errorResponse(e, correlationId, d.logger, sourceIp ? { sourceIp } : {});
    }
  };
}

/**
 * Opens the deny-reason modal; the trigger id lives three seconds, so it must
 * open now. When Slack refuses (an expired trigger, Slack down), the clicker
 * is told why and how else to deny, rather than seeing Slack's bare warning.
 */
async function openDenyForm(d: SlackAppDeps, a: BlockAction, correlationId: string): Promise<void> {
  try {
    await d.slack.openView(a.triggerId, denyReasonModal(a.value, { responseUrl: a.responseUrl, channelId: a.channelId, messageTs: a.messageTs }));
  } catch (e) {
    d.logger.warn('slack deny form did not open', { correlationId, requestId: a.value, error: e instanceof Error ? e.message : String(e) });
    // If this fails too, the error goes back to Slack, which shows the clicker a warning.
    await d.slack.postToResponseUrl(
      a.responseUrl,
      commandReply(`The deny form could not be opened (Slack refused it; click Deny again, or use \`/access deny ${a.value} <reason>\`). Nothing was decided.`),
    );
  }
}
