import { inspect } from 'node:util';
import { denyReasonModal } from '../../../src/adapters/slack/blocks';
import { SlackApiError, SlackClient } from '../../../src/adapters/slack/slack-client';
import { REQUEST_ID } from './fixtures';
import { fakeSlack } from './fake-slack';

const TOKEN = 'xoxb-000000000-111111111-secretsecretsecret';
const message = { text: 'hello', blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: 'hello' } }] };

describe('SlackClient', () => {
  it('posts a message with the bot token and returns where it landed', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });

    const ref = await client.postMessage('C0APPROVERS', message);

    expect(ref).toEqual({ channel: 'C0APPROVERS', ts: '1767261600.000100' });
    expect(slack.calls).toEqual([
      {
        url: 'https://slack.com/api/chat.postMessage',
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${TOKEN}` },
        body: { channel: 'C0APPROVERS', text: 'hello', blocks: message.blocks, unfurl_links: false, unfurl_media: false },
      },
    ]);
  });

  it('updates a message, opens a modal and a direct message', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: async () => TOKEN, fetch: slack.fetch });

    await expect(client.updateMessage({ channel: 'C0APPROVERS', ts: '1.2' }, message)).resolves.toEqual({ channel: 'C0APPROVERS', ts: '1.2' });
    await expect(client.openView('trigger-1', denyReasonModal(REQUEST_ID))).resolves.toEqual({ viewId: 'V0MODAL' });
    await expect(client.openDirectMessage('U0ALICE')).resolves.toBe('D0U0ALICE');

    expect(slack.calls.map((c) => [c.url, c.body])).toEqual([
      ['https://slack.com/api/chat.update', { channel: 'C0APPROVERS', ts: '1.2', text: 'hello', blocks: message.blocks }],
      ['https://slack.com/api/views.open', { trigger_id: 'trigger-1', view: denyReasonModal(REQUEST_ID) }],
      ['https://slack.com/api/conversations.open', { users: 'U0ALICE' }],
    ]);
    expect(slack.calls.every((c) => c.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('throws the Slack error code of an ok:false answer, without the token', async () => {
    const slack = fakeSlack(() => ({ json: { ok: false, error: 'channel_not_found' } }));
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });

    const error = await client.postMessage('C0GONE', message).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SlackApiError);
    expect(error).toMatchObject({ method: 'chat.postMessage', code: 'channel_not_found', message: 'Slack chat.postMessage failed: channel_not_found' });
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain(TOKEN);
  });

  it('reports rate limiting with the wait Slack asks for', async () => {
    const slack = fakeSlack(() => ({ status: 429, text: '', headers: { 'retry-after': '30' } }));
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });
    await expect(client.updateMessage({ channel: 'C1', ts: '1.2' }, message)).rejects.toMatchObject({ code: 'ratelimited', httpStatus: 429, retryAfter: 30 });
  });

  it('reports an HTTP error without a JSON body', async () => {
    const slack = fakeSlack(() => ({ status: 502, text: '<html>Bad gateway</html>' }));
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });
    await expect(client.openDirectMessage('U0ALICE')).rejects.toMatchObject({ code: 'http_502', httpStatus: 502 });
  });

  it('keeps the token out of JSON and inspection of the client', () => {
    const client = new SlackClient({ token: TOKEN, fetch: fakeSlack().fetch });
    expect(JSON.stringify(client)).not.toContain(TOKEN);
    expect(inspect(client, { depth: 5 })).not.toContain(TOKEN);
  });

  it('replies through a response_url without the bot token', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });

    await client.postToResponseUrl('https://hooks.slack.com/commands/T1/2/3', { response_type: 'ephemeral', text: 'Done.' });

    expect(slack.calls).toEqual([
      { url: 'https://hooks.slack.com/commands/T1/2/3', method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: { response_type: 'ephemeral', text: 'Done.' } },
    ]);
  });

  it('refuses to send a reply anywhere but Slack', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });
    await expect(client.postToResponseUrl('https://attacker.example/hook', { response_type: 'ephemeral', text: 'x' })).rejects.toMatchObject({ code: 'not_a_slack_url' });
    expect(slack.calls).toEqual([]);
  });

  it('surfaces an expired response_url', async () => {
    const slack = fakeSlack(() => ({ status: 404, text: 'expired_url' }));
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });
    await expect(client.postToResponseUrl('https://hooks.slack.com/actions/T1/2/3', { response_type: 'ephemeral', text: 'x' })).rejects.toMatchObject({
      code: 'expired_url',
      httpStatus: 404,
    });
  });
});
