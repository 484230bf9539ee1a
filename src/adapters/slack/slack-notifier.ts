import type { AccessRequest } from '../../domain/model';
import type { Notification, Notifier } from '../../domain/ports';
import { callerIdentity, parsePrincipalArn, principalKeyOf } from '../../domain/principal';
import type { Settings } from '../../domain/settings';
import { accessReadyMessage, accessSummary, approvalMessage, statusMessage, type AccessSummary, type Mention } from './blocks';
import type { SlackApi, SlackMessageRef } from './slack-client';

/** Where a request's approval message lives, and the request version it last showed. */
export interface StoredSlackMessage extends SlackMessageRef {
  version?: number;
}

/**
 * Remembers the approval message of each request so later changes update it
 * in place. Backed by DynamoDB in AWS; a conditional put on `version` there
 * closes the last window for out-of-order updates.
 */
export interface SlackMessageStore {
  get(requestId: string): Promise<StoredSlackMessage | undefined>;
  put(requestId: string, message: StoredSlackMessage): Promise<void>;
}

/** A SlackMessageStore in memory (tests, local runs). */
export class InMemorySlackMessageStore implements SlackMessageStore {
  readonly items = new Map<string, StoredSlackMessage>();
  async get(requestId: string): Promise<StoredSlackMessage | undefined> {
    return this.items.get(requestId);
  }
  async put(requestId: string, message: StoredSlackMessage): Promise<void> {
    this.items.set(requestId, { ...message });
  }
}

export interface SlackNotifierDeps {
  slack: SlackApi;
  settings: Settings;
  messages: SlackMessageStore;
}

/**
 * The Slack user of a principal (the reverse of settings.slack.users), and of
 * a person behind it: several Slack users may map to one role (sessions of an
 * Identity Center role, one per person, or a role people share), and then the
 * role alone does not say which of them asked or acted. A principal answers
 * only when one Slack user maps to it, to the principal itself; with a person
 * (an Identity Center session's), also the Slack user mapped to that
 * person's session. Anyone else is shown by ARN and sent nothing.
 */
export function slackUserIndex(settings: Settings): Mention {
  const users = new Map<string, { userId: string; person?: string }[]>();
  for (const [userId, arn] of Object.entries(settings.slack?.users ?? {})) {
    // A session ARN (as Identity Center users are mapped) counts for its role, with its person.
    let mapped: { arn: string; person?: string };
    try {
      mapped = callerIdentity(arn);
    } catch {
      continue;
    }
    const key = principalKeyOf(mapped.arn);
    if (key === undefined) continue;
    users.set(key, [...(users.get(key) ?? []), { userId, ...(mapped.person !== undefined ? { person: mapped.person } : {}) }]);
  }
  return (arn, person) => {
    const key = principalKeyOf(arn);
    const mapped = key === undefined ? [] : (users.get(key) ?? []);
    const theirs = person === undefined ? [] : mapped.filter((u) => u.person === person);
    if (theirs.length === 1) return theirs[0]!.userId;
    // One Slack user mapped to the principal itself: theirs, whoever asked. One mapped to a person's session is
    // that person's only: the principal alone (an approver, an actor) may be another person of the same role.
    const [sole] = mapped;
    return mapped.length === 1 && sole!.person === undefined ? sole!.userId : undefined;
  };
}

/**
 * Slack side of notifications: posts the approval message in the rule's
 * channel when a request is created, updates it in place on every later
 * change, and sends the requester a direct message when access is ready.
 * Throws when a Slack call fails; the caller audits it and never rolls back.
 */
export class SlackNotifier implements Notifier {
  private readonly slackUserOf: Mention;

  constructor(private readonly deps: SlackNotifierDeps) {
    this.slackUserOf = slackUserIndex(deps.settings);
  }

  async notify(n: Notification): Promise<void> {
    if (n.kind === 'drift.detected') return;
    const tasks: Promise<unknown>[] = [n.kind === 'request.created' ? this.postApproval(n) : this.updateInPlace(n)];
    // The request as it is when sent: one revoked or ended since it became active is not announced as ready.
    if (n.kind === 'request.active' && n.request.status === 'ACTIVE') tasks.push(this.sendAccessReady(n));
    const failures = (await Promise.allSettled(tasks)).filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new AggregateError(failures, `Slack notification failed: ${failures.map((f) => (f instanceof Error ? f.message : String(f))).join('; ')}`);
    }
  }

  private summary(r: AccessRequest): AccessSummary | undefined {
    const profile = this.deps.settings.profiles.find((p) => p.name === r.profile);
    return profile ? accessSummary(profile, parsePrincipalArn(r.principalArn)) : undefined;
  }

  private async postApproval(n: Notification): Promise<void> {
    const r = n.request;
    const channel = this.deps.settings.rules.find((rule) => rule.id === r.ruleId)?.slackChannel;
    if (!channel) return; // This rule's approvals are not announced in Slack.
    const existing = await this.deps.messages.get(r.id);
    // A retried notification must not post a second message with live buttons.
    if (existing) return this.updateInPlace(n, existing);
    // Sent late (behind a slow receiver, after a re-drive), the request may have moved on: never offer buttons it no longer takes.
    const message = r.status === 'PENDING' ? approvalMessage(r, this.summary(r), { slackUserOf: this.slackUserOf }) : statusMessage(r, { slackUserOf: this.slackUserOf, actor: n.actor });
    const ref = await this.deps.slack.postMessage(channel, message);
    await this.deps.messages.put(r.id, { channel: ref.channel, ts: ref.ts, version: r.version });
  }

  private async updateInPlace(n: Notification, known?: StoredSlackMessage): Promise<void> {
    const r = n.request;
    const stored = known ?? (await this.deps.messages.get(r.id));
    if (!stored) return; // No approval message (auto-approved, or no channel for the rule).
    // Notifications may arrive out of order (the worker vs. the approver's click): never show an older state.
    if (stored.version !== undefined && r.version < stored.version) return;
    const message = statusMessage(r, {
      slackUserOf: this.slackUserOf,
      actor: n.actor,
      ...(n.comment !== undefined ? { comment: n.comment } : {}),
      ...(r.status === 'PENDING' ? { summary: this.summary(r) } : {}),
    });
    const ref = await this.deps.slack.updateMessage({ channel: stored.channel, ts: stored.ts }, message);
    await this.deps.messages.put(r.id, { channel: ref.channel, ts: ref.ts, version: r.version });
  }

  private async sendAccessReady(n: Notification): Promise<void> {
    const userId = this.slackUserOf(n.request.requester, n.request.requesterPerson);
    if (!userId) return; // The requester has no Slack identity in the configuration.
    const channel = await this.deps.slack.openDirectMessage(userId);
    await this.deps.slack.postMessage(channel, accessReadyMessage(n.request));
  }
}
