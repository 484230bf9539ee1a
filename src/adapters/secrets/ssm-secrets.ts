import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '../../domain/errors';
import type { SecretSource } from './secret-source';

export { StaticSecretSource, type SecretSource } from './secret-source';

/*
 * Secrets (Slack signing secret, bot token, webhook HMAC keys) are named in
 * the configuration and read at run time, never stored in the file. Values
 * are never logged and never put in an error message.
 */

/**
 * Reads SecureString (or String) parameters from SSM Parameter Store with
 * decryption, once per name for the life of the instance — build it once per
 * cold start. Names are paths under the stack's secretsPath (src/config.ts),
 * the only ones the functions' roles may read.
 * A failed read is not cached: the next call tries again.
 */
export class SsmSecretSource implements SecretSource {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(private readonly ssm: SSMClient) {}

  get(name: string): Promise<string> {
    let pending = this.cache.get(name);
    if (!pending) {
      pending = this.load(name);
      this.cache.set(name, pending);
      const mine = pending;
      mine.catch(() => {
        if (this.cache.get(name) === mine) this.cache.delete(name);
      });
    }
    return pending;
  }

  private async load(name: string): Promise<string> {
    let value: string | undefined;
    try {
      const out = await this.ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      value = out.Parameter?.Value;
    } catch (e) {
      const code = (e as { name?: string }).name ?? 'Error';
      // The SDK's message names the parameter at most; the value never reaches an error.
      throw new ConfigError(`Cannot read the secret parameter ${name} from SSM (${code}).`);
    }
    if (!value) throw new ConfigError(`The secret parameter ${name} in SSM is empty.`);
    return value;
  }
}
