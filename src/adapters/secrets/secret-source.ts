import { ConfigError } from '../../domain/errors';

/*
 * The secret port, kept apart from the SSM adapter so that a function which
 * never reads SSM does not load the SSM client at cold start.
 */

export interface SecretSource {
  /** The secret's value. Throws when it cannot be read. */
  get(name: string): Promise<string>;
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
