import { createHash } from 'node:crypto';
import { encodeTime } from 'ulid';
import type { SlackJob, SlackJobLedger } from '../../adapters/dynamodb/slack-store';
import { commandReply, helpText } from '../../adapters/slack/blocks';
import type { SlackApi } from '../../adapters/slack/slack-client';
import { errorForLog, ForbiddenError, logReasonOf, messageForUsers, RolegateError } from '../../domain/errors';
import { STATUS_BY_CODE } from '../http/errors';
import type { AccessRequest, Actor } from '../../domain/model';
import { callerIdentity } from '../../domain/principal';
import { cancelRequest } from '../../domain/use-cases/cancelRequest';
import { createRequest } from '../../domain/use-cases/createRequest';
import { decideRequest } from '../../domain/use-cases/decideRequest';
import { revokeRequest } from '../../domain/use-cases/endAccess';
import { getRequest } from '../../domain/use-cases/getRequest';
import { listRequests } from '../../domain/use-cases/listRequests';
import { interactiveDeps } from '../lease-waits';
import type { ProvisioningDeps } from '../../domain/use-cases/provisionRequest';

function line(r: AccessRequest): string {
  return `\`${r.id}\` *${r.status}* ${r.profile} in ${r.accountAlias} for ${r.durationMinutes} min${r.endsAt ? `, until ${r.endsAt}` : ''}`;
}

export interface SlackJobRunner {
  deps: ProvisioningDeps;
  slack: SlackApi;
  jobs: SlackJobLedger;
}

export type SlackJobOutcome = { status: 'done'; text: string; replied: boolean } | { status: 'already done' };

/**
 * Does the work of one Slack job through the same use-cases as the HTTP API
 * (same rules: no self-approval, quorum, conflicts), and reports the outcome
 * privately through the job's response_url. A refusal is a friendly message,
 * never a failure of the job. A job is done once: one already done (the
 * stream delivers at least once) is skipped, and a failed reply does not
 * fail the job, since its work is committed.
 */
export async function runSlackJob(r: SlackJobRunner, job: SlackJob): Promise<SlackJobOutcome> {
  const deps = interactiveDeps(r.deps);
  if (await r.jobs.isDone(job.id)) {
    deps.logger.info('slack job already done; not run again', { jobId: job.id });
    return { status: 'already done' };
  }
  let text: string;
  // The principal slack.users links the user to, once checked (never the job's own claim, which may be forged).
  let caller: string | undefined;
  try {
    caller = linkedPrincipal(deps, job);
    text = await perform(deps, slackActor(deps, caller, job.slackUserId), job);
  } catch (e) {
    // Our side's failures (what the API answers 5xx: an unexpected error, IAM refusing a revoke) are logged and
    // counted for their alarm, as the API's are; a refusal (4xx) is logged as the API logs one: the trace a
    // probe leaves (a self-approval, a revoke of another's access), with who tried what.
    if (!(e instanceof RolegateError) || STATUS_BY_CODE[e.code] >= 500) {
      deps.logger.error('slack job failed', { jobId: job.id, kind: job.work.kind, ...(e instanceof RolegateError ? { code: e.code } : {}), error: errorForLog(e) });
      deps.metrics?.count('SlackJobFailed');
    } else {
      const reason = logReasonOf(e);
      deps.logger.info('slack job refused', { jobId: job.id, ...jobTarget(job), code: e.code, ...(reason !== undefined ? { reason } : {}), slackUserId: job.slackUserId, ...(caller !== undefined ? { caller } : {}) });
    }
    const why = messageForUsers(e);
    text = why !== undefined ? `Not done: ${why}` : 'Something went wrong on our side; nothing may have changed. Try again, or use the rolegate CLI.';
  }
  // Marked before the reply: a reply lost to a crash here is better than a second run answering
  // "already decided". If the mark fails the job may run again, which its use-cases make harmless.
  try {
    await r.jobs.markDone(job.id);
  } catch (e) {
    deps.logger.error('could not mark a slack job done; a redelivery would run it again', { jobId: job.id, error: e instanceof Error ? e.message : String(e) });
  }
  try {
    await r.slack.postToResponseUrl(job.responseUrl, commandReply(text));
    return { status: 'done', text, replied: true };
  } catch (e) {
    // The response_url is a bearer credential for the user's channel: kept out of the log.
    deps.logger.warn('slack job reply not delivered; the work is done and is not repeated', { jobId: job.id, error: withoutUrls(e, job.responseUrl) });
    deps.metrics?.count('SlackReplyUndelivered');
    return { status: 'done', text, replied: false };
  }
}

/**
 * Who acts: the principal the configuration links the job's Slack user to,
 * as the Slack function found it. The job item is the Slack function's
 * word; were that function (the one facing the internet) subverted, it could
 * write any principal into it, so the principal is looked up again here and
 * a job naming another is refused. (It could still name any mapped Slack
 * user: this bounds it to the people slack.users maps.)
 */
function linkedPrincipal(deps: ProvisioningDeps, job: SlackJob): string {
  const users = deps.settings.slack?.users ?? {};
  const linked = Object.hasOwn(users, job.slackUserId) ? users[job.slackUserId] : undefined;
  if (linked === undefined || linked !== job.principalArn) {
    deps.logger.error('slack job names a principal its Slack user is not linked to; refused', { jobId: job.id, slackUserId: job.slackUserId });
    throw new ForbiddenError(`Your Slack user (${job.slackUserId}) is not linked to ${job.principalArn} in rolegate's configuration (slack.users), so rolegate did not act for it.`);
  }
  return linked;
}

/**
 * The actor a Slack user acts as: the principal its slack.users entry names.
 * An entry naming an Identity Center session (assumed-role/AWSReservedSSO_…/
 * <user name>) stands for that role, under its configured path, and names
 * the person as a sign-in would: their own requests are refused to them, and
 * a personal grant is pinned to them.
 */
function slackActor(deps: ProvisioningDeps, linked: string, slackUserId: string): Actor {
  return { ...callerIdentity(linked, deps.settings.rolePaths), via: 'slack', source: { via: 'slack', slackUser: slackUserId } };
}

function withoutUrls(e: unknown, responseUrl: string): string {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return message.split(responseUrl).join('<response_url>').replace(/https?:\/\/\S+/g, '<url>');
}

/** What a job tried, for its log line: its kind (a command's verb) and the request it named. */
function jobTarget(job: SlackJob): { kind: string; requestId?: string } {
  const w = job.work;
  if (w.kind !== 'command') return { kind: w.kind, requestId: w.requestId };
  const c = w.command;
  return { kind: `command ${c.kind}`, ...('requestId' in c ? { requestId: c.requestId } : {}) };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The id of the request a `request` job makes: a ULID whose time is the
 * job's and whose 80 "random" bits are a hash of the job id, so every run
 * of the job names the same request. Undefined for a job without its time.
 */
export function requestIdForJob(job: Pick<SlackJob, 'id' | 'createdAt'>): string | undefined {
  const at = job.createdAt === undefined ? NaN : Date.parse(job.createdAt);
  if (!Number.isFinite(at)) return undefined;
  const digest = createHash('sha256').update(`rolegate-slack-job:${job.id}`).digest();
  let random = '';
  for (let i = 0; i < 16; i++) random += CROCKFORD[digest[i]! & 31];
  return encodeTime(at, 10) + random;
}

async function perform(deps: ProvisioningDeps, actor: Actor, job: SlackJob): Promise<string> {
  const w = job.work;
  if (w.kind === 'approve') {
    // Weighed against the decision deadline as of the click, not of this run (the worker may lag behind).
    const r = await decideRequest(deps, actor, { requestId: w.requestId, decision: 'APPROVE', ...(job.createdAt !== undefined ? { givenAt: job.createdAt } : {}) });
    return r.status === 'APPROVED' ? `You approved \`${r.id}\`: it is approved and access is being set up.` : `Your approval of \`${r.id}\` is recorded (${r.approvals.length} of ${r.approvalsRequired}).`;
  }
  if (w.kind === 'deny') {
    const r = await decideRequest(deps, actor, { requestId: w.requestId, decision: 'DENY', comment: w.reason });
    return `You denied \`${r.id}\`.`;
  }
  const c = w.command;
  switch (c.kind) {
    case 'request': {
      const requestId = requestIdForJob(job);
      const r = await createRequest(deps, actor, { account: c.account, profile: c.profile, durationMinutes: c.durationMinutes, reason: c.reason, ...(c.ticket ? { ticket: c.ticket } : {}), ...(requestId ? { requestId } : {}) });
      return r.status === 'PENDING'
        ? `Requested \`${r.id}\`: waiting for ${r.approvalsRequired} approval(s) until ${r.decisionDeadline}.`
        : `Requested \`${r.id}\`: approved at once; you will get a message when access is ready.`;
    }
    case 'list': {
      const page = await listRequests(deps, actor, { view: 'mine', limit: 10 });
      return page.items.length ? page.items.map(line).join('\n') : 'You have no requests.';
    }
    case 'status': {
      const d = await getRequest(deps, actor, c.requestId);
      // Once ended, the link no longer works: not offered.
      const access = d.request.access && d.request.status === 'ACTIVE' ? `\nConsole: ${d.request.access.switchRoleUrl}` : '';
      return `${line(d.request)}\nDecisions: ${d.decisions.map((x) => `${x.decision} by ${x.approver}`).join(', ') || 'none'}${access}`;
    }
    case 'approve': {
      const r = await decideRequest(deps, actor, { requestId: c.requestId, decision: 'APPROVE', ...(c.comment ? { comment: c.comment } : {}) });
      return `Approval of \`${r.id}\` recorded: ${r.status} (${r.approvals.length} of ${r.approvalsRequired}).`;
    }
    case 'deny':
      return `Denied \`${(await decideRequest(deps, actor, { requestId: c.requestId, decision: 'DENY', comment: c.reason })).id}\`.`;
    case 'revoke':
      return `Revoked \`${(await revokeRequest(deps, actor, c.requestId, c.comment)).id}\`: access is removed.`;
    case 'cancel':
      return `Cancelled \`${(await cancelRequest(deps, actor, c.requestId)).id}\`.`;
    case 'help':
      return helpText().text;
    case 'invalid':
      return `${c.message}\n${c.usage}`;
  }
}
