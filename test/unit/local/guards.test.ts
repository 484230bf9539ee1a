import { isLocalHost, localPort, localRunRefusal } from '../../../src/local/guards';

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
