import { isLocalHost, localPort, localRunRefusal, localSecretsRefusal, secretNamesOf } from '../../../src/local/guards';
import { exampleSettings, settingsWith } from '../../helpers/settings';

describe('the local run', () => {
  it('refuses a configuration that provisions for real unless ROLEGATE_LOCAL_ALLOW_AWS=true says so', () => {
    expect(localRunRefusal('dry-run', {})).toBeUndefined();
    expect(localRunRefusal('aws', { ROLEGATE_LOCAL_ALLOW_AWS: 'true' })).toBeUndefined();
    for (const env of [{}, { ROLEGATE_LOCAL_ALLOW_AWS: '1' }, { ROLEGATE_LOCAL_ALLOW_AWS: 'TRUE' }]) {
      expect(localRunRefusal('aws', env)).toBe(
        [
          'This configuration has provisioner.mode: aws. Run locally, rolegate would change IAM in real accounts with',
          "this machine's AWS credentials, for anyone its x-rolegate-principal header names, which nothing authenticates.",
          'Use a dry-run configuration, or set ROLEGATE_LOCAL_ALLOW_AWS=true to do it on purpose (a sandbox account).',
        ].join('\n'),
      );
    }
  });

  it('refuses a configuration that names secrets unless they are given locally, or reading SSM is allowed on purpose', () => {
    expect(secretNamesOf(exampleSettings())).toEqual([]);
    const withSlack = settingsWith((doc) => {
      doc.slack = { teamIds: ['T0ACME'], users: { U0ALICE: 'arn:aws:iam::111111111111:user/alice' } };
      doc.webhooks = [{ url: 'https://hooks.example.com/rolegate', secretParameter: '/rolegate/webhooks/ops' }];
    });
    const names = secretNamesOf(withSlack);
    expect(names).toEqual(['/rolegate/slack/signing-secret', '/rolegate/slack/bot-token', '/rolegate/webhooks/ops']);
    expect(localSecretsRefusal([], {})).toBeUndefined();
    expect(localSecretsRefusal(names, { ROLEGATE_LOCAL_SECRETS: '{}' })).toBeUndefined();
    expect(localSecretsRefusal(names, { ROLEGATE_LOCAL_ALLOW_AWS: 'true' })).toBeUndefined();
    // Empty is no secrets given: the run would read SSM after all.
    expect(localSecretsRefusal(names, { ROLEGATE_LOCAL_SECRETS: '' })).toBe(localSecretsRefusal(names, {}));
    expect(localSecretsRefusal(names, { ROLEGATE_LOCAL_ALLOW_AWS: '1' })).toBe(
      [
        'This configuration names secrets (/rolegate/slack/signing-secret, /rolegate/slack/bot-token, /rolegate/webhooks/ops). Run locally without ROLEGATE_LOCAL_SECRETS, rolegate would read them',
        "from SSM Parameter Store with this machine's AWS credentials, and post to Slack with the bot token found there.",
        `Give them locally, ROLEGATE_LOCAL_SECRETS='{"/rolegate/slack/signing-secret":"…"}', or set ROLEGATE_LOCAL_ALLOW_AWS=true to read them from SSM on purpose.`,
      ].join('\n'),
    );
  });

  it.each([
    [undefined, 3000],
    ['', 3000],
    ['8080', 8080],
    ['65535', 65535],
  ])('listens on PORT=%p as %p', (value, port) => {
    expect(localPort(value)).toBe(port);
  });

  it.each(['abc', '0', '65536', '80.5', ' 80', '-1', '1e3'])('refuses PORT=%p before starting anything', (value) => {
    expect(() => localPort(value)).toThrow(`PORT must be a port number from 1 to 65535, not "${value}".`);
  });

  it('answers only requests addressed to 127.0.0.1 or localhost on its own port', () => {
    expect(isLocalHost('127.0.0.1:3000', 3000)).toBe(true);
    expect(isLocalHost('localhost:3000', 3000)).toBe(true);
    expect(isLocalHost('LocalHost:3000', 3000)).toBe(true);
    for (const host of [undefined, '', '127.0.0.1', '127.0.0.1:3001', 'attacker.example:3000', 'localhost.attacker.example:3000', '[::1]:3000']) {
      expect(isLocalHost(host, 3000)).toBe(false);
    }
  });
});
