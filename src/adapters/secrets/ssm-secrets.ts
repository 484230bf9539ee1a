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

/** After a failed re-read, the last good value serves this long before SSM is asked again. */
export const RETRY_AFTER_FAILURE_MS = 30_000;

/** SSM's answers that the parameter is gone or closed to rolegate, not that SSM is unwell. */
const GONE = new Set(['ParameterNotFound', 'ParameterVersionNotFound', 'AccessDeniedException', 'InvalidKeyId']);

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
 * instances to be recycled. A re-read that fails because SSM is throttled
 * or out of reach uses the earlier value (that must not stop Slack or
 * webhooks) and is tried again 30 s later; one that finds the parameter
 * gone, empty or closed to rolegate fails, as a withdrawn key must not stay
 * in use. A failed first read is not kept, so the next call tries again. Names are paths
 * under the stack's secretsPath (src/config.ts), the only ones the
 * functions' roles may read.
 */
export class SsmSecretSource implements SecretSource {
  private readonly cache = new Map<string, Cached>();
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly onStale: (why: string) => void;

  constructor(
    private readonly ssm: SSMClient,
    options: { maxAgeMs?: number; now?: () => number; onStale?: (why: string) => void } = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? SECRET_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
    // Told each time an earlier value stands in (at most once per RETRY_AFTER_FAILURE_MS per name): a rotation is not yet in effect.
    this.onStale = options.onStale ?? (() => undefined);
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
        // A parameter deleted or closed to rolegate (a compromised key withdrawn) is never stood in for.
        if (good === undefined || (e as { gone?: boolean }).gone) {
          this.cache.delete(name);
          throw e;
        }
        // SSM throttled or out of reach: the last good value, and another read in RETRY_AFTER_FAILURE_MS,
        // not at every use (which would add to the throttling and make every Slack call wait on SSM).
        entry.readAt = this.now() - this.maxAgeMs + RETRY_AFTER_FAILURE_MS;
        this.onStale(`${(e as Error).message} The value read earlier is used; SSM is asked again in ${RETRY_AFTER_FAILURE_MS / 1000} s.`);
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
      throw Object.assign(new ConfigError(`Cannot read the secret parameter ${name} from SSM (${code}).`), { gone: GONE.has(code) });
    }
    if (!value) throw Object.assign(new ConfigError(`The secret parameter ${name} in SSM is empty.`), { gone: true });
    return value;
  }
}
