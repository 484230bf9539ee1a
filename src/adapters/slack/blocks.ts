import type { AccessRequest, RequestStatus } from '../../domain/model';
import type { Principal } from '../../domain/principal';
import { mfaRequired } from '../../domain/rules';
import type { Profile } from '../../domain/settings';
import { usage } from './commands';
import {
  APPROVE_ACTION_ID,
  DENY_ACTION_ID,
  DENY_REASON_ACTION_ID,
  DENY_REASON_BLOCK_ID,
  DENY_REASON_CALLBACK_ID,
  FREE_TEXT_MAX,
  OPEN_CONSOLE_ACTION_ID,
} from './constants';
import type { ModalOrigin } from './commands';

/*
 * Block Kit builders: pure functions from rolegate's model to the JSON Slack
 * expects. Every piece of text that comes from a user or the configuration
 * goes through `esc` (mrkdwn) or a plain_text object, so that a reason such as
 * "<!channel>" or "<https://evil|click>" shows as typed and never becomes a
 * mention or a link.
 */

// ---------------------------------------------------------------------------
// The subset of Block Kit rolegate uses

export interface PlainText {
  type: 'plain_text';
  text: string;
  emoji?: boolean;
}
export interface Mrkdwn {
  type: 'mrkdwn';
  text: string;
  /** True on everything rolegate builds (`md`): Slack then neither turns bare URLs into links nor parses `@here`, `@channel` or `#channel` words. */
  verbatim?: boolean;
}
export type TextObject = PlainText | Mrkdwn;

export interface ButtonElement {
  type: 'button';
  action_id: string;
  text: PlainText;
  value?: string;
  url?: string;
  style?: 'primary' | 'danger';
  confirm?: {
    title: PlainText;
    text: TextObject;
    confirm: PlainText;
    deny: PlainText;
    style?: 'primary' | 'danger';
  };
}
export interface PlainTextInputElement {
  type: 'plain_text_input';
  action_id: string;
  multiline?: boolean;
  min_length?: number;
  max_length?: number;
  placeholder?: PlainText;
}

export type Block =
  | { type: 'header'; text: PlainText; block_id?: string }
  | { type: 'section'; text?: TextObject; fields?: TextObject[]; block_id?: string }
  | { type: 'context'; elements: TextObject[]; block_id?: string }
  | { type: 'actions'; elements: ButtonElement[]; block_id?: string }
  | { type: 'divider'; block_id?: string }
  | { type: 'input'; block_id: string; label: PlainText; element: PlainTextInputElement; optional?: boolean; hint?: PlainText };

/** Arguments of chat.postMessage / chat.update besides channel and ts. */
export interface SlackMessage {
  /** Fallback for notifications and screen readers. */
  text: string;
  blocks: Block[];
}

/** A reply to a slash command or through a response_url. */
export interface SlackReply {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
  blocks?: Block[];
  replace_original?: boolean;
}

export interface ModalView {
  type: 'modal';
  callback_id: string;
  private_metadata: string;
  title: PlainText;
  submit: PlainText;
  close: PlainText;
  blocks: Block[];
}

/** What an access profile gives, in a few words (shown to approvers). */
export interface AccessSummary {
  description: string;
  managedPolicyNames: string[];
  hasInlinePolicy: boolean;
  permissionsBoundaryName?: string;
  requireMfa: boolean;
  maxSessionMinutes: number;
}

/** The Slack user to mention for a principal ARN (and the person behind it, when known): undefined shows the ARN. */
export type Mention = (principalArn: string, person?: string) => string | undefined;

export interface RenderOptions {
  /** Slack user id of a principal ARN (reverse of settings.slack.users). */
  slackUserOf?: Mention;
  /** What the profile gives; shown while the request waits for approval. */
  summary?: AccessSummary;
  /** Who made the last change, and their comment (from the Notification). */
  actor?: string;
  comment?: string;
}

// ---------------------------------------------------------------------------
// Text helpers

/** Escapes text for Slack mrkdwn: &, < and > are the only control characters (mentions, links). */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Cuts escaped text to `max` characters without splitting an entity such as `&amp;`. */
function clip(escaped: string, max: number): string {
  if (escaped.length <= max) return escaped;
  return `${escaped.slice(0, max - 1).replace(/&[a-z]*$/, '')}…`;
}

/**
 * Escaped, then bounded (escaping may grow the text fivefold): Slack refuses
 * a section text over 3,000 characters and a field over 2,000.
 */
function userText(text: string, max = 2800): string {
  return clip(esc(text), max);
}

function plain(text: string, max = 75): PlainText {
  return { type: 'plain_text', text: truncate(text, max), emoji: true };
}

/**
 * Every mrkdwn object is verbatim: `esc` stops `<!channel>` and `<url|label>`,
 * but without it Slack would still link a bare URL and ping on `@here` in a
 * reason, inside rolegate's own message. Explicit `<@U…>` mentions still work.
 */
function md(text: string): Mrkdwn {
  return { type: 'mrkdwn', text, verbatim: true };
}

/**
 * User text as a block quote, every line of it: Slack quotes only the line a
 * `>` starts, so a multi-line comment could otherwise add lines that read as
 * rolegate's own status lines. Bounded after quoting.
 */
function quoted(text: string, max: number): string {
  return clip(
    esc(text)
      .split('\n')
      .map((line) => `> ${line}`)
      .join('\n'),
    max,
  );
}

function who(arn: string, slackUserOf?: Mention, person?: string): string {
  if (arn === 'rolegate') return 'rolegate';
  const user = slackUserOf?.(arn, person);
  if (user && /^[UW][A-Z0-9]+$/.test(user)) return `<@${user}>`;
  return `\`${esc(arn)}\``;
}

/** "2h", "1h 30m", "45m", "2d 1h". */
export function formatDuration(minutes: number): string {
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : ''].filter(Boolean);
  return parts.length ? parts.join(' ') : '0m';
}

/** A time Slack renders in each reader's own time zone, with the ISO time as fallback. */
function when(iso: string | undefined): string {
  if (!iso) return 'an unknown time';
  const seconds = Math.floor(Date.parse(iso) / 1000);
  if (!Number.isFinite(seconds)) return esc(iso);
  return `<!date^${seconds}^{date_short_pretty} {time}|${esc(iso)}>`;
}

function policyName(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

/** The approver-facing summary of what a profile gives the grantee (MFA only where it is asked of them). */
export function accessSummary(profile: Profile, grantee: Principal): AccessSummary {
  return {
    description: profile.description,
    managedPolicyNames: profile.managedPolicyArns.map(policyName),
    hasInlinePolicy: Boolean(profile.inlinePolicy),
    ...(profile.permissionsBoundaryArn ? { permissionsBoundaryName: policyName(profile.permissionsBoundaryArn) } : {}),
    requireMfa: mfaRequired(profile, grantee),
    maxSessionMinutes: Math.round(profile.maxSessionDurationSeconds / 60),
  };
}

function summaryText(s: AccessSummary): string {
  const lines: string[] = [];
  if (s.description) lines.push(userText(s.description, 1000));
  const policies = [...s.managedPolicyNames.map((p) => `\`${esc(p)}\``), ...(s.hasInlinePolicy ? ['an inline policy'] : [])];
  if (policies.length) lines.push(`Policies: ${policies.join(', ')}`);
  if (s.permissionsBoundaryName) lines.push(`Bounded by \`${esc(s.permissionsBoundaryName)}\``);
  const facts = [`sessions up to ${formatDuration(s.maxSessionMinutes)}`, ...(s.requireMfa ? ['MFA required'] : [])];
  lines.push(facts.join(' · '));
  return `*What it gives*\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------------------
// Messages

const STATUS_LINE: Record<RequestStatus, string> = {
  PENDING: ':hourglass_flowing_sand: Waiting for approval',
  APPROVED: ':white_check_mark: Approved — access is being set up',
  ACTIVE: ':large_green_circle: Access active',
  DENIED: ':no_entry: Denied',
  CANCELLED: ':heavy_multiplication_x: Cancelled by the requester',
  TIMED_OUT: ':alarm_clock: Timed out without a decision',
  FAILED: ':warning: Setting up access failed',
  EXPIRED: ':checkered_flag: Expired',
  REVOKED: ':lock: Revoked',
};

function requestFields(r: AccessRequest, slackUserOf?: Mention): Block[] {
  const fields: Mrkdwn[] = [
    md(`*Requester*\n${who(r.requester, slackUserOf, r.requesterPerson)}`),
    md(`*Account*\n${esc(r.accountAlias)} (\`${esc(r.accountId)}\`)`),
    md(`*Profile*\n${esc(r.profile)}`),
    md(`*Duration*\n${formatDuration(r.durationMinutes)}`),
  ];
  if (r.principalArn !== r.requester) fields.push(md(`*For principal*\n\`${esc(r.principalArn)}\``));
  // A personal grant: approvers see that only this person's sessions of the role may use it.
  if (r.principalSession !== undefined) fields.push(md(`*Only as*\n\`${esc(r.principalSession)}\``));
  if (r.ticket) fields.push(md(`*Ticket*\n${userText(r.ticket, 400)}`));
  return [
    { type: 'section', fields },
    { type: 'section', text: md(`*Reason*\n${quoted(r.reason, 2800)}`) },
  ];
}

function idContext(r: AccessRequest): Block {
  return { type: 'context', elements: [md(`Request \`${esc(r.id)}\` · rule \`${esc(r.ruleId)}\``)] };
}

function approvalsLine(r: AccessRequest, slackUserOf?: Mention): string | undefined {
  if (r.approvals.length === 0) return undefined;
  return `Approved by ${r.approvals.map((a) => who(a, slackUserOf)).join(', ')}`;
}

/**
 * The approval message posted in the rule's channel: who asks for what and
 * why, what the profile gives, and the Approve / Deny buttons (value: the
 * request id). Also used to re-render a request that is still pending after
 * a first approval of several.
 */
export function approvalMessage(request: AccessRequest, summary: AccessSummary | undefined, options: Omit<RenderOptions, 'summary'> = {}): SlackMessage {
  const r = request;
  const blocks: Block[] = [
    { type: 'header', text: plain(`Access request: ${r.profile} in ${r.accountAlias}`, 150) },
    ...requestFields(r, options.slackUserOf),
  ];
  if (summary) blocks.push({ type: 'section', text: md(summaryText(summary)) });
  const progress = [
    `${STATUS_LINE.PENDING} (${r.approvals.length} of ${r.approvalsRequired})`,
    approvalsLine(r, options.slackUserOf),
    `Decide before ${when(r.decisionDeadline)}`,
  ].filter(Boolean);
  blocks.push({ type: 'context', elements: [md(progress.join(' · '))] });
  blocks.push({
    type: 'actions',
    block_id: 'rolegate_decision',
    elements: [
      { type: 'button', action_id: APPROVE_ACTION_ID, style: 'primary', text: plain('Approve'), value: r.id },
      { type: 'button', action_id: DENY_ACTION_ID, style: 'danger', text: plain('Deny'), value: r.id },
    ],
  });
  blocks.push(idContext(r));
  return { text: `Access request: ${esc(r.profile)} in ${esc(r.accountAlias)} for ${esc(r.requester)}`, blocks };
}

/**
 * The approval message as the request moves on, for chat.update in place.
 * While PENDING it keeps the buttons (quorum not reached yet); afterwards it
 * shows the outcome and no buttons.
 */
export function statusMessage(request: AccessRequest, options: RenderOptions = {}): SlackMessage {
  const r = request;
  if (r.status === 'PENDING') return approvalMessage(r, options.summary, options);
  const by = options.actor && options.actor !== 'rolegate' ? ` by ${who(options.actor, options.slackUserOf)}` : '';
  const outcome: string[] = [];
  switch (r.status) {
    case 'APPROVED':
      outcome.push(r.approvals.length ? STATUS_LINE.APPROVED : ':white_check_mark: Approved automatically by the rule — access is being set up');
      break;
    case 'ACTIVE':
      outcome.push(`${STATUS_LINE.ACTIVE} until ${when(r.endsAt ?? r.access?.endsAt)}`);
      break;
    case 'DENIED':
    case 'REVOKED':
      outcome.push(`${STATUS_LINE[r.status]}${by}`);
      break;
    case 'EXPIRED':
      outcome.push(`${STATUS_LINE.EXPIRED} at ${when(r.endedAt ?? r.endsAt)}`);
      break;
    case 'TIMED_OUT':
      outcome.push(`${STATUS_LINE.TIMED_OUT} (deadline ${when(r.decisionDeadline)})`);
      break;
    case 'FAILED':
      outcome.push(STATUS_LINE.FAILED);
      if (r.failure) outcome.push(`${quoted(r.failure.message, 600)}${r.failure.retryable ? ' (an approver can retry)' : ''}`);
      break;
    default:
      outcome.push(STATUS_LINE[r.status]);
  }
  const approvals = approvalsLine(r, options.slackUserOf);
  if (approvals && r.status !== 'DENIED') outcome.push(approvals);
  if (options.comment && r.status !== 'FAILED') outcome.push(quoted(options.comment, 1500));

  return {
    text: `Access request ${esc(r.id)}: ${STATUS_LINE[r.status].replace(/^:[a-z_]+: /, '')}`,
    blocks: [
      { type: 'header', text: plain(`Access request: ${r.profile} in ${r.accountAlias}`, 150) },
      ...requestFields(r, options.slackUserOf),
      { type: 'section', text: md(outcome.join('\n')) },
      idContext(r),
    ],
  };
}

/** The direct message to the requester once access is live: console link and CLI profile. */
export function accessReadyMessage(request: AccessRequest): SlackMessage {
  const r = request;
  const a = r.access;
  const headline = `:key: Your *${esc(r.profile)}* access to *${esc(r.accountAlias)}* (\`${esc(r.accountId)}\`) is ready until ${when(a?.endsAt ?? r.endsAt)}.`;
  if (!a) {
    return { text: `Your ${esc(r.profile)} access to ${esc(r.accountAlias)} is ready.`, blocks: [{ type: 'section', text: md(headline) }, idContext(r)] };
  }
  const blocks: Block[] = [
    { type: 'section', text: md(`${headline}\nRole: \`${esc(a.roleArn)}\``) },
    {
      type: 'actions',
      elements: [{ type: 'button', action_id: OPEN_CONSOLE_ACTION_ID, style: 'primary', text: plain('Switch role in the console'), url: a.switchRoleUrl }],
    },
    { type: 'section', text: md(`*~/.aws/config*\n\`\`\`${esc(a.cliProfile)}\`\`\``) },
  ];
  if (a.note) blocks.push({ type: 'context', elements: [md(userText(a.note, 2000))] });
  blocks.push(idContext(r));
  return { text: `Your ${esc(r.profile)} access to ${esc(r.accountAlias)} is ready.`, blocks };
}

/**
 * The modal that asks an approver for the reason of a denial. The request id
 * travels in private_metadata; when `origin` is given (the clicked message's
 * response_url, channel and ts) it travels too, as JSON, so the outcome can
 * be reported where the click happened. parseInteraction reads both forms.
 */
export function denyReasonModal(requestId: string, origin?: ModalOrigin): ModalView {
  return {
    type: 'modal',
    callback_id: DENY_REASON_CALLBACK_ID,
    private_metadata: origin ? JSON.stringify({ requestId, ...origin }) : requestId,
    title: plain('Deny access request', 24),
    submit: plain('Deny'),
    close: plain('Cancel'),
    blocks: [
      { type: 'section', text: md(`Why is request \`${esc(requestId)}\` denied? The requester will see this reason.`) },
      {
        type: 'input',
        block_id: DENY_REASON_BLOCK_ID,
        label: plain('Reason'),
        element: { type: 'plain_text_input', action_id: DENY_REASON_ACTION_ID, multiline: true, min_length: 1, max_length: FREE_TEXT_MAX },
      },
    ],
  };
}

/** The `/access help` answer, only to the caller. */
export function helpText(command = '/access'): SlackReply {
  const text = `*rolegate* — temporary AWS access.\n\`\`\`${esc(usage(command))}\`\`\``;
  return { response_type: 'ephemeral', text, blocks: [{ type: 'section', text: md(text) }] };
}

/**
 * A private answer to the caller. The text is escaped (it often quotes what
 * the user typed), so it can carry *bold* and `code` but no mention or link.
 */
export function commandReply(text: string): SlackReply {
  return { response_type: 'ephemeral', text: userText(text, 3000) };
}
