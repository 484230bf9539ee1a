import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '../../domain/errors';
import type { SecretSource } from './secret-source';

export { StaticSecretSource, type SecretSource } from './secret-source';

/*
 * Secrets (Slack signing secret, bot token, webhook HMAC keys) are named in
 * the configuration and read at run time, never stored in the file. Values
 * are never logged and never put in an error message.
 */

/** How long a value read from SSM is used before it is read again: a rotated secret takes effect within this time. */
export const SECRET_MAX_AGE_MS = 5 * 60_000;

interface Cached {
  value: Promise<string>;
  readAt: number;
  /** The last value read successfully, kept for when a later read fails. */
  good?: string;
}

/**
 * Reads SecureString (or String) parameters from SSM Parameter Store with
 * decryption, and keeps each value for `maxAgeMs` (five minutes): a secret
 * rotated after a compromise (a webhook key, the bot token, the signing
 * secret) is used everywhere within that time, without waiting for warm
 * instances to be recycled. A read that fails after an earlier one
 * succeeded uses the earlier value (SSM throttled or out of reach must not
 * stop Slack or webhooks) and is tried again at the next use; a failed
 * first read is not kept, so the next call tries again. Names are paths
 * under the stack's secretsPath (src/config.ts), the only ones the
 * functions' roles may read.
 */
export class SsmSecretSource implements SecretSource {
  private readonly cache = new Map<string, Cached>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(
    private readonly ssm: SSMClient,
    options: { maxAgeMs?: number; now?: () => number } = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? SECRET_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
  }

  get(name: string): Promise<string> {
    const cached = this.cache.get(name);
    if (cached && this.now() - cached.readAt < this.maxAgeMs) return cached.value;
    const good = cached?.good;
    const entry: Cached = { value: this.load(name), readAt: this.now(), ...(good !== undefined ? { good } : {}) };
    this.cache.set(name, entry);
    entry.value = entry.value.then(
      (value) => {
        entry.good = value;
        return value;
      },
      (e: unknown) => {
        if (this.cache.get(name) !== entry) throw e;
        if (good === undefined) {
          this.cache.delete(name);
          throw e;
        }
        // Read again at the next use, meanwhile the last good value.
        entry.readAt = -Infinity;
        return good;
      },
    );
    return entry.value;
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
