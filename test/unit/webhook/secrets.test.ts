import 'aws-sdk-client-mock-jest';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { RETRY_AFTER_FAILURE_MS, SECRET_MAX_AGE_MS, SsmSecretSource, StaticSecretSource } from '../../../src/adapters/secrets/ssm-secrets';
import { ConfigError } from '../../../src/domain/errors';

const ssmMock = mockClient(SSMClient);

beforeEach(() => ssmMock.reset());

describe('SsmSecretSource', () => {
  it('reads a parameter with decryption once while the value is fresh', async () => {
    ssmMock.on(GetParameterCommand, { Name: '/rolegate/slack/signing-secret' }).resolves({ Parameter: { Name: '/rolegate/slack/signing-secret', Value: 's3cr3t' } });
    const source = new SsmSecretSource(new SSMClient({ region: 'eu-west-1' }));

    const values = await Promise.all([source.get('/rolegate/slack/signing-secret'), source.get('/rolegate/slack/signing-secret')]);
    await source.get('/rolegate/slack/signing-secret');

    expect(values).toEqual(['s3cr3t', 's3cr3t']);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/rolegate/slack/signing-secret', WithDecryption: true });
  });

  it('does not cache a failure: the next call tries again', async () => {
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ Parameter: { Value: 'xoxb-token' } });
    const source = new SsmSecretSource(new SSMClient({ region: 'eu-west-1' }));

    await expect(source.get('/rolegate/slack/bot-token')).rejects.toThrow(new ConfigError('Cannot read the secret parameter /rolegate/slack/bot-token from SSM (ThrottlingException).'));
    await expect(source.get('/rolegate/slack/bot-token')).resolves.toBe('xoxb-token');
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 2);
  });

  it('reads a rotated secret again once the value is five minutes old', async () => {
    ssmMock.on(GetParameterCommand).resolvesOnce({ Parameter: { Value: 'old-key' } }).resolves({ Parameter: { Value: 'rotated-key' } });
    let now = 1_000_000;
    const source = new SsmSecretSource(new SSMClient({ region: 'eu-west-1' }), { now: () => now });

    const first = await source.get('/rolegate/webhooks/siem');
    now += SECRET_MAX_AGE_MS - 1;
    const stillFresh = await source.get('/rolegate/webhooks/siem');
    now += 1;
    const reread = await source.get('/rolegate/webhooks/siem');

    expect([first, stillFresh, reread]).toEqual(['old-key', 'old-key', 'rotated-key']);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 2);
  });

  it('keeps using the last value it read while SSM throttles a re-read, and asks again 30 s later, not at each use', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    ssmMock.on(GetParameterCommand).resolvesOnce({ Parameter: { Value: 'xoxb-1' } }).rejectsOnce(throttled).resolves({ Parameter: { Value: 'xoxb-2' } });
    let now = 0;
    const stale: string[] = [];
    const source = new SsmSecretSource(new SSMClient({ region: 'eu-west-1' }), { now: () => now, onStale: (why) => stale.push(why) });
    await source.get('/rolegate/slack/bot-token');
    now += SECRET_MAX_AGE_MS;

    const during = [await source.get('/rolegate/slack/bot-token'), await source.get('/rolegate/slack/bot-token')];
    now += RETRY_AFTER_FAILURE_MS - 1;
    const stillWaiting = await source.get('/rolegate/slack/bot-token');
    now += 1;
    const after = await source.get('/rolegate/slack/bot-token');

    expect(during).toEqual(['xoxb-1', 'xoxb-1']);
    expect([stillWaiting, after]).toEqual(['xoxb-1', 'xoxb-2']);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 3);
    // Said once, for the one failed read (a rotation not yet in effect is visible), naming the parameter, never a value.
    expect(stale).toEqual(['Cannot read the secret parameter /rolegate/slack/bot-token from SSM (ThrottlingException). The value read earlier is used; SSM is asked again in 30 s.']);
  });

  it.each([
    ['deleted', Object.assign(new Error('not found'), { name: 'ParameterNotFound' })],
    ['closed to rolegate', Object.assign(new Error('denied'), { name: 'AccessDeniedException' })],
  ])('stops using a secret whose parameter was %s (a withdrawn key), rather than the last value read', async (_what, error) => {
    ssmMock.on(GetParameterCommand).resolvesOnce({ Parameter: { Value: 'compromised' } }).rejects(error);
    let now = 0;
    const stale: string[] = [];
    const source = new SsmSecretSource(new SSMClient({ region: 'eu-west-1' }), { now: () => now, onStale: (why) => stale.push(why) });
    await source.get('/rolegate/webhooks/siem');
    now += SECRET_MAX_AGE_MS;

    await expect(source.get('/rolegate/webhooks/siem')).rejects.toThrow(`Cannot read the secret parameter /rolegate/webhooks/siem from SSM (${error.name}).`);
    await expect(source.get('/rolegate/webhooks/siem')).rejects.toBeInstanceOf(ConfigError);
    expect(stale).toEqual([]);
  });

  it('refuses an empty parameter', async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: '' } });
    const source = new SsmSecretSource(new SSMClient({ region: 'eu-west-1' }));
    await expect(source.get('/rolegate/empty')).rejects.toThrow('The secret parameter /rolegate/empty in SSM is empty.');
  });
});

describe('StaticSecretSource', () => {
  it('returns configured values and names a missing one without revealing others', async () => {
    const source = new StaticSecretSource({ a: 'value-a' });
    await expect(source.get('a')).resolves.toBe('value-a');
    const error = await source.get('b').catch((e: unknown) => e);
    expect(error).toEqual(new ConfigError('No secret named b is configured.'));
    expect(String(error)).not.toContain('value-a');
  });
});
