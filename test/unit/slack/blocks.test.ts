import {
  accessReadyMessage,
  accessSummary,
  approvalMessage,
  commandReply,
  denyReasonModal,
  esc,
  formatDuration,
  helpText,
  statusMessage,
  type Block,
  type SlackMessage,
} from '../../../src/adapters/slack/blocks';
import type { RequestStatus } from '../../../src/domain/model';
import { parsePrincipalArn } from '../../../src/domain/principal';
import { ARN, exampleSettings } from '../../helpers/settings';
import { activeRequest, pendingRequest, REQUEST_ID } from './fixtures';

const settings = exampleSettings();
const alice = parsePrincipalArn(ARN.alice);
const readOnly = accessSummary(settings.profiles.find((p) => p.name === 'ReadOnly')!, alice);
const slackUserOf = (arn: string) => (arn === ARN.alice ? 'U0ALICE' : arn === ARN.leadAnna ? 'U0LEADANNA' : undefined);

const HOSTILE = '<!channel> <@U0BOSS> <https://evil.example/login|Approve here> & <!subteam^S123>';

/** Every string that Slack renders as mrkdwn, in one text. */
function mrkdwn(message: { text: string; blocks?: Block[] }): string {
  const out: string[] = [message.text];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text);
      Object.values(o).forEach(walk);
    }
  };
  walk(message.blocks ?? []);
  return out.join('\n');
}

function actions(message: SlackMessage) {
  return message.blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.type === 'actions' ? b.elements : []));
}

describe('esc', () => {
  it('escapes the three characters Slack mrkdwn treats as control characters', () => {
    expect(esc('a & b < c > d')).toBe('a &amp; b &lt; c &gt; d');
    expect(esc('&lt;')).toBe('&amp;lt;');
  });
});

describe('approvalMessage', () => {
  const message = approvalMessage(pendingRequest(), readOnly, { slackUserOf });

  it('shows requester, account, profile, duration, reason, ticket and what the profile gives', () => {
    const text = mrkdwn(message);
    expect(text).toContain('*Requester*\n<@U0ALICE>');
    expect(text).toContain('*Account*\nproduction (`333333333333`)');
    expect(text).toContain('*Profile*\nReadOnly');
    expect(text).toContain('*Duration*\n1h 30m');
    expect(text).toContain('*Reason*\n> Investigating INC-42');
    expect(text).toContain('*Ticket*\nINC-42');
    expect(text).toContain('Read-only access to every service');
    expect(text).toContain('Policies: `ReadOnlyAccess`');
    expect(text).toContain('(0 of 1)');
    expect(message.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Access request: ReadOnly in production', emoji: true } });
  });

  it('carries Approve and Deny buttons whose value is the request id', () => {
    expect(actions(message)).toEqual([
      { type: 'button', action_id: 'rolegate_approve', style: 'primary', text: { type: 'plain_text', text: 'Approve', emoji: true }, value: REQUEST_ID },
      { type: 'button', action_id: 'rolegate_deny', style: 'danger', text: { type: 'plain_text', text: 'Deny', emoji: true }, value: REQUEST_ID },
    ]);
  });

  it('names an unmapped requester by ARN and a workload principal separately', () => {
    const text = mrkdwn(approvalMessage(pendingRequest({ requester: ARN.bob, principalArn: ARN.appRole }), undefined, { slackUserOf }));
    expect(text).toContain('*Requester*\n`arn:aws:iam::111111111111:user/bob`');
    expect(text).toContain('*For principal*\n`arn:aws:iam::111111111111:role/app-billing`');
    expect(text).not.toContain('*Only as*');
  });

  it("names the one session a personal grant admits, so approvers see it is the person's alone", () => {
    const text = mrkdwn(approvalMessage(pendingRequest({ principalSession: 'Alice@Example.com' }), undefined, { slackUserOf }));
    expect(text).toContain('*Only as*\n`Alice@Example.com`');
  });

  it('summarises boundary, inline policy and MFA', () => {
    const ec2 = accessSummary(settings.profiles.find((p) => p.name === 'EC2Admin')!, alice);
    const s3 = accessSummary(settings.profiles.find((p) => p.name === 'S3ReadOnly')!, alice);
    expect(mrkdwn(approvalMessage(pendingRequest({ profile: 'EC2Admin' }), ec2))).toMatch(/Bounded by `PowerUserAccess`[\s\S]*sessions up to 2h · MFA required/);
    expect(mrkdwn(approvalMessage(pendingRequest({ profile: 'S3ReadOnly' }), s3))).toContain('Policies: `AmazonS3ReadOnlyAccess`, an inline policy');
  });

  it('does not tell approvers MFA is required for a role grantee, whose trust policy cannot ask it', () => {
    const ec2ForRole = accessSummary(settings.profiles.find((p) => p.name === 'EC2Admin')!, parsePrincipalArn(ARN.appRole));
    const text = mrkdwn(approvalMessage(pendingRequest({ profile: 'EC2Admin', principalArn: ARN.appRole }), ec2ForRole));
    expect(text).toContain('sessions up to 2h');
    expect(text).not.toContain('MFA');
  });

  it('cannot be made to mention, link or notify through reason, ticket or comment', () => {
    const hostile = pendingRequest({ reason: HOSTILE, ticket: '<!here>' });
    for (const message of [
      approvalMessage(hostile, readOnly),
      statusMessage({ ...hostile, status: 'DENIED' }, { actor: ARN.leadAnna, comment: HOSTILE }),
      statusMessage({ ...hostile, status: 'REVOKED' }, { actor: ARN.leadAnna, comment: HOSTILE }),
    ]) {
      const text = mrkdwn(message);
      expect(text).not.toMatch(/<!channel>|<!here>|<@U0BOSS>|<https:\/\/evil|<!subteam/);
      expect(text).toContain('&lt;!channel&gt; &lt;@U0BOSS&gt; &lt;https://evil.example/login|Approve here&gt; &amp; &lt;!subteam^S123&gt;');
    }
  });

  it('marks every mrkdwn text verbatim, so Slack neither links a bare URL nor pings @here in user text', () => {
    const message = approvalMessage(pendingRequest({ reason: '@here approve at https://rolegate-sso.example.net/login', ticket: 'https://rolegate-sso.example.net/approve' }), readOnly);
    const objects: Array<Record<string, unknown>> = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (o.type === 'mrkdwn') objects.push(o);
        Object.values(o).forEach(walk);
      }
    };
    for (const m of [message, statusMessage({ ...pendingRequest(), status: 'DENIED' }, { actor: ARN.leadAnna, comment: '@channel' }), accessReadyMessage(activeRequest())]) walk(m.blocks);
    expect(objects.length).toBeGreaterThan(10);
    expect(objects.filter((o) => o.verbatim !== true)).toEqual([]);
  });

  it('quotes every line of a reason or comment, so added lines cannot pass for rolegate status lines', () => {
    const fake = 'done\n:white_check_mark: Access extended by rolegate\nApproved by `arn:aws:iam::111111111111:user/ciso`';
    const quotedFake = '> done\n> :white_check_mark: Access extended by rolegate\n> Approved by `arn:aws:iam::111111111111:user/ciso`';
    expect(mrkdwn(approvalMessage(pendingRequest({ reason: fake }), readOnly))).toContain(`*Reason*\n${quotedFake}`);
    const revoked = mrkdwn(statusMessage(activeRequest({ status: 'REVOKED' }), { slackUserOf, actor: ARN.alice, comment: fake }));
    expect(revoked).toContain(`:lock: Revoked by <@U0ALICE>\nApproved by <@U0LEADANNA>\n${quotedFake}`);
    const failed = pendingRequest({ status: 'FAILED', failure: { code: 'AccessDenied', message: fake, at: '2026-01-01T10:06:00.000Z', retryable: false } });
    expect(mrkdwn(statusMessage(failed))).toContain(`:warning: Setting up access failed\n${quotedFake}`);
  });

  it('keeps a very long reason within Slack limits', () => {
    const message = approvalMessage(pendingRequest({ reason: '<'.repeat(5000) }), readOnly);
    const reason = message.blocks.find((b) => b.type === 'section' && b.text?.text.startsWith('*Reason*'));
    expect(reason?.type === 'section' && reason.text?.text).toMatch(/^\*Reason\*\n> (&lt;)+…$/);
    // Every text Slack takes in a section or context, 3,000 characters at most.
    const texts = message.blocks.flatMap((b) => [...(b.type === 'section' ? [b.text, ...(b.fields ?? [])] : []), ...(b.type === 'context' ? b.elements : [])]);
    expect(texts.length).toBeGreaterThan(0);
    for (const t of texts) if (t && 'text' in t) expect(t.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('statusMessage', () => {
  it('keeps the buttons and shows who approved while the quorum is not reached', () => {
    const message = statusMessage(pendingRequest({ approvalsRequired: 2, approvals: [ARN.leadAnna], version: 2 }), { slackUserOf, summary: readOnly });
    expect(actions(message).map((a) => a.action_id)).toEqual(['rolegate_approve', 'rolegate_deny']);
    expect(mrkdwn(message)).toContain('(1 of 2) · Approved by <@U0LEADANNA>');
  });

  it.each<[RequestStatus, string]>([
    ['APPROVED', ':white_check_mark: Approved — access is being set up\nApproved by <@U0LEADANNA>'],
    ['ACTIVE', ':large_green_circle: Access active until <!date^1767267300^{date_short_pretty} {time}|2026-01-01T11:35:00.000Z>\nApproved by <@U0LEADANNA>'],
    ['EXPIRED', ':checkered_flag: Expired at <!date^1767267300^{date_short_pretty} {time}|2026-01-01T11:35:00.000Z>\nApproved by <@U0LEADANNA>'],
    ['REVOKED', ':lock: Revoked by <@U0LEADANNA>\nApproved by <@U0LEADANNA>\n> incident over'],
  ])('shows %s without buttons', (status, outcome) => {
    const message = statusMessage(activeRequest({ status }), { slackUserOf, actor: ARN.leadAnna, comment: status === 'REVOKED' ? 'incident over' : undefined });
    expect(actions(message)).toEqual([]);
    expect(mrkdwn(message)).toContain(outcome);
  });

  it('shows a denial with who denied it and why', () => {
    const message = statusMessage(pendingRequest({ status: 'DENIED', version: 2 }), { slackUserOf, actor: ARN.leadAnna, comment: 'use staging' });
    expect(actions(message)).toEqual([]);
    expect(mrkdwn(message)).toContain(':no_entry: Denied by <@U0LEADANNA>\n> use staging');
  });

  it('says an auto-approved request was approved by its rule', () => {
    expect(mrkdwn(statusMessage(pendingRequest({ status: 'APPROVED', approvalsRequired: 0 }), { actor: 'rolegate' }))).toContain('Approved automatically by the rule');
  });

  it('shows a provisioning failure, escaped, and whether it can be retried', () => {
    const failed = pendingRequest({ status: 'FAILED', approvals: [ARN.leadAnna], failure: { code: 'AccessDenied', message: 'not allowed <here>', at: '2026-01-01T10:06:00.000Z', retryable: true } });
    const text = mrkdwn(statusMessage(failed));
    expect(text).toContain(':warning: Setting up access failed\n> not allowed &lt;here&gt; (an approver can retry)');
  });

  it.each<RequestStatus>(['CANCELLED', 'TIMED_OUT'])('shows %s without buttons', (status) => {
    const message = statusMessage(pendingRequest({ status }));
    expect(actions(message)).toEqual([]);
    expect(message.text).toMatch(/^Access request 01JABCDEFGHJKMNPQRSTVWXYZ0: /);
  });
});

describe('accessReadyMessage', () => {
  it('gives the console link as a button and the CLI profile in a code block', () => {
    const r = activeRequest();
    const message = accessReadyMessage(r);
    expect(actions(message)).toEqual([
      { type: 'button', action_id: 'rolegate_open_console', style: 'primary', text: { type: 'plain_text', text: 'Switch role in the console', emoji: true }, url: r.access!.switchRoleUrl },
    ]);
    const text = mrkdwn(message);
    expect(text).toContain('Role: `arn:aws:iam::333333333333:role/rolegate/rolegate-ReadOnly-alice`');
    expect(text).toContain('*~/.aws/config*\n```[profile production-ReadOnly]\nrole_arn = arn:aws:iam::333333333333:role/rolegate/rolegate-ReadOnly-alice\nsource_profile = default```');
    expect(text).toContain('is ready until <!date^1767267300^');
  });

  it('still says access is ready when the details are missing', () => {
    const message = accessReadyMessage(activeRequest({ access: undefined }));
    expect(actions(message)).toEqual([]);
    expect(message.text).toBe('Your ReadOnly access to production is ready.');
  });
});

describe('denyReasonModal', () => {
  it('asks for a required reason and carries the request id', () => {
    expect(denyReasonModal(REQUEST_ID)).toEqual({
      type: 'modal',
      callback_id: 'rolegate_deny_reason',
      private_metadata: REQUEST_ID,
      title: { type: 'plain_text', text: 'Deny access request', emoji: true },
      submit: { type: 'plain_text', text: 'Deny', emoji: true },
      close: { type: 'plain_text', text: 'Cancel', emoji: true },
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `Why is request \`${REQUEST_ID}\` denied? The requester will see this reason.`, verbatim: true } },
        {
          type: 'input',
          block_id: 'rolegate_deny_reason_block',
          label: { type: 'plain_text', text: 'Reason', emoji: true },
          element: { type: 'plain_text_input', action_id: 'rolegate_deny_reason_input', multiline: true, min_length: 1, max_length: 1000 },
        },
      ],
    });
  });

  it('carries where the click happened when asked', () => {
    const origin = { responseUrl: 'https://hooks.slack.com/actions/T1/2/3', channelId: 'C0APPROVERS', messageTs: '1767261600.000100' };
    expect(JSON.parse(denyReasonModal(REQUEST_ID, origin).private_metadata)).toEqual({ requestId: REQUEST_ID, ...origin });
  });
});

describe('replies', () => {
  it('answers help privately with the usage', () => {
    const reply = helpText();
    expect(reply.response_type).toBe('ephemeral');
    expect(reply.text).toContain('/access request &lt;account&gt; &lt;profile&gt; &lt;duration&gt; [--ticket &lt;id&gt;] &lt;reason…&gt;');
  });

  it('answers privately and escapes what it quotes', () => {
    expect(commandReply('Unknown profile "<!channel>".')).toEqual({ response_type: 'ephemeral', text: 'Unknown profile "&lt;!channel&gt;".' });
  });
});

describe('formatDuration', () => {
  it.each([
    [45, '45m'],
    [60, '1h'],
    [90, '1h 30m'],
    [1500, '1d 1h'],
  ])('writes %d minutes as %s', (minutes, text) => {
    expect(formatDuration(minutes)).toBe(text);
  });
});

describe('long text', () => {
  it('never cuts an escaped character in half', () => {
    const text = mrkdwn(approvalMessage(pendingRequest({ reason: `x${'&'.repeat(999)}` }), readOnly));
    expect(text).toMatch(/(&amp;)+…/);
    expect(text).not.toMatch(/&a?m?p?…/);
  });
});
