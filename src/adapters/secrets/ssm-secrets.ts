import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '../../domain/errors';

/*
 * Secrets (Slack signing secret, bot token, webhook HMAC keys) are named in
 * the configuration and read at run time, never stored in the file. Values
 * are never logged and never put in an error message.
 */

export interface SecretSource {
  /** The secret's value. Throws when it cannot be read. */
  get(name: string): Promise<string>;
}

/**
 * Reads SecureString (or String) parameters from SSM Parameter Store with
 * decryption, once per name for the life of the instance — build it once per
 * cold start. Secrets Manager secrets are read through the same call with a
 * name of the form `/aws/reference/secretsmanager/<secret-id>`.
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

/** Secrets from a map (local runs and tests). */
export class StaticSecretSource implements SecretSource {
  private readonly values: ReadonlyMap<string, string>;

  constructor(values: Record<string, string> | ReadonlyMap<string, string>) {
    this.values = values instanceof Map ? new Map(values) : new Map(Object.entries(values));
  }

  async get(name: string): Promise<string> {
    const value = this.values.get(name);
    if (value === undefined || value === '') throw new ConfigError(`No secret named ${name} is configured.`);
    return value;
  }
}
