import type { AccessRequest } from '../../../src/domain/model';
import { ARN } from '../../helpers/settings';

export const REQUEST_ID = '01JABCDEFGHJKMNPQRSTVWXYZ0';

/** A request as the use-cases produce it: production read access waiting for one lead. */
export function pendingRequest(patch: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: REQUEST_ID,
    version: 1,
    status: 'PENDING',
    requester: ARN.alice,
    principalArn: ARN.alice,
    accountId: '333333333333',
    accountAlias: 'production',
    profile: 'ReadOnly',
    ruleId: 'production-read',
    durationMinutes: 90,
    reason: 'Investigating INC-42',
    ticket: 'INC-42',
    approvalsRequired: 1,
    approvals: [],
    createdAt: '2026-01-01T10:00:00.000Z',
    updatedAt: '2026-01-01T10:00:00.000Z',
    decisionDeadline: '2026-01-01T12:00:00.000Z',
    ...patch,
  };
}

export function activeRequest(patch: Partial<AccessRequest> = {}): AccessRequest {
  return pendingRequest({
    version: 4,
    status: 'ACTIVE',
    approvals: [ARN.leadAnna],
    approvedAt: '2026-01-01T10:05:00.000Z',
    endsAt: '2026-01-01T11:35:00.000Z',
    grantKey: '333333333333#rolegate-ReadOnly-alice',
    access: {
      roleArn: 'arn:aws:iam::333333333333:role/rolegate/rolegate-ReadOnly-alice',
      accountId: '333333333333',
      roleName: 'rolegate-ReadOnly-alice',
      switchRoleUrl: 'https://signin.aws.amazon.com/switchrole?roleName=rolegate%2Frolegate-ReadOnly-alice&account=333333333333&displayName=production-ReadOnly',
      cliProfile: '[profile production-ReadOnly]\nrole_arn = arn:aws:iam::333333333333:role/rolegate/rolegate-ReadOnly-alice\nsource_profile = default',
      endsAt: '2026-01-01T11:35:00.000Z',
      note: 'Access ends at 2026-01-01T11:35:00.000Z.',
    },
    ...patch,
  });
}

/** What Slack posts for `/access request production ReadOnly 90m Investigating INC-42 & <friends>`. */
export function slashCommandBody(text: string, overrides: Record<string, string> = {}): string {
  return new URLSearchParams({
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    team_id: 'T0001ABCD',
    team_domain: 'example',
    channel_id: 'C2147483705',
    channel_name: 'platform',
    user_id: 'U2147483697',
    user_name: 'alice',
    command: '/access',
    // Slack HTML-escapes &, < and > in the text it sends.
    text: text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
    api_app_id: 'A0ROLEGATE',
    is_enterprise_install: 'false',
    response_url: 'https://hooks.slack.com/commands/T0001ABCD/1234567890/abcdefABCDEF123456',
    trigger_id: '13345224609.738474920.8088930838d88f008e0',
    ...overrides,
  }).toString();
}

/** A block_actions payload as Slack sends it for a click on Approve or Deny, minus fields rolegate ignores. */
export function blockActionsPayload(actionId = 'rolegate_approve', value = REQUEST_ID, patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: { id: 'U0LEADANNA', username: 'lead-anna', name: 'lead-anna', team_id: 'T0001ABCD' },
    api_app_id: 'A0ROLEGATE',
    token: 'gIkuvaNzQIHg97ATvDxqgjtO',
    container: { type: 'message', message_ts: '1767261600.000100', channel_id: 'C0APPROVERS', is_ephemeral: false },
    trigger_id: '12466734323.1395872398.7b0f3b3b2d8c8e6b0c8e7d9e1c2b3a4f',
    team: { id: 'T0001ABCD', domain: 'example' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: 'C0APPROVERS', name: 'access-approvals' },
    message: { type: 'message', ts: '1767261600.000100', bot_id: 'B0ROLEGATE', text: 'Access request', blocks: [] },
    state: { values: {} },
    response_url: 'https://hooks.slack.com/actions/T0001ABCD/1234567890/abcdefABCDEF123456',
    actions: [
      {
        action_id: actionId,
        block_id: 'rolegate_decision',
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        value,
        style: 'primary',
        type: 'button',
        action_ts: '1767261700.123456',
      },
    ],
    ...patch,
  };
}

export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
