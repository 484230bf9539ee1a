import type { SlackJob } from '../../adapters/dynamodb/slack-store';
import { commandReply, helpText } from '../../adapters/slack/blocks';
import type { SlackApi } from '../../adapters/slack/slack-client';
import { RolegateError } from '../../domain/errors';
import type { AccessRequest, Actor } from '../../domain/model';
import { cancelRequest } from '../../domain/use-cases/cancelRequest';
import { createRequest } from '../../domain/use-cases/createRequest';
import { decideRequest } from '../../domain/use-cases/decideRequest';
import { revokeRequest } from '../../domain/use-cases/endAccess';
import { getRequest } from '../../domain/use-cases/getRequest';
import { listRequests } from '../../domain/use-cases/listRequests';
import type { ProvisioningDeps } from '../../domain/use-cases/provisionRequest';

function line(r: AccessRequest): string {
  return `\`${r.id}\` *${r.status}* ${r.profile} in ${r.accountAlias} for ${r.durationMinutes} min${r.endsAt ? `, until ${r.endsAt}` : ''}`;
}

/**
 * Does the work of one Slack job through the same use-cases as the HTTP API
 * (same rules: no self-approval, quorum, conflicts), and reports the outcome
 * privately through the job's response_url. A refusal is a friendly message,
 * never a failure of the job.
 */
export async function runSlackJob(deps: ProvisioningDeps, slack: SlackApi, job: SlackJob): Promise<string> {
  const actor: Actor = { arn: job.principalArn, via: 'slack' };
  let text: string;
  try {
    text = await perform(deps, actor, job);
  } catch (e) {
    if (!(e instanceof RolegateError)) {
      deps.logger.error('slack job failed', { jobId: job.id, error: e instanceof Error ? e.message : String(e) });
      text = 'Something went wrong on our side; nothing may have changed. Try again, or use the rolegate CLI.';
    } else {
      text = `Not done: ${e.message}`;
    }
  }
  await slack.postToResponseUrl(job.responseUrl, commandReply(text));
  return text;
}

async function perform(deps: ProvisioningDeps, actor: Actor, job: SlackJob): Promise<string> {
  const w = job.work;
  if (w.kind === 'approve') {
    const r = await decideRequest(deps, actor, { requestId: w.requestId, decision: 'APPROVE' });
    return r.status === 'APPROVED' ? `You approved \`${r.id}\`: it is approved and access is being set up.` : `Your approval of \`${r.id}\` is recorded (${r.approvals.length} of ${r.approvalsRequired}).`;
  }
  if (w.kind === 'deny') {
    const r = await decideRequest(deps, actor, { requestId: w.requestId, decision: 'DENY', comment: w.reason });
    return `You denied \`${r.id}\`.`;
  }
  const c = w.command;
  switch (c.kind) {
    case 'request': {
      const r = await createRequest(deps, actor, { account: c.account, profile: c.profile, durationMinutes: c.durationMinutes, reason: c.reason, ...(c.ticket ? { ticket: c.ticket } : {}) });
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
      const access = d.request.access ? `\nConsole: ${d.request.access.switchRoleUrl}` : '';
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
