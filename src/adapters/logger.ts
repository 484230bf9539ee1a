import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Logger } from '../domain/ports';

/** Field names whose values are never logged, at any depth. */
const SECRET_KEYS = /^(authorization|x-slack-signature|signingsecret|bottoken|token|secret|secretaccesskey|sessiontoken|password|externalid|credentials)$/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.test(k) ? '[redacted]' : redact(v, depth + 1)]));
}

/**
 * Structured JSON logs through Powertools. Messages are constant strings;
 * anything a user supplied travels as a field, and known secret fields are
 * redacted.
 */
export class PowertoolsLoggerAdapter implements Logger {
  constructor(readonly powertools: PowertoolsLogger) {}
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.powertools.info(message, redact(fields) as Record<string, unknown>);
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.powertools.warn(message, redact(fields) as Record<string, unknown>);
  }
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.powertools.error(message, redact(fields) as Record<string, unknown>);
  }
  private correlationKeys: string[] = [];
  setCorrelation(fields: Record<string, string> | undefined): void {
    if (this.correlationKeys.length) this.powertools.removeKeys(this.correlationKeys);
    this.correlationKeys = Object.keys(fields ?? {});
    if (fields) this.powertools.appendKeys(fields);
  }
}

export function createLogger(serviceName: string, logLevel: string): PowertoolsLoggerAdapter {
  return new PowertoolsLoggerAdapter(new PowertoolsLogger({ serviceName, logLevel: logLevel.toUpperCase() as 'INFO' }));
}

/** A logger that keeps lines in memory (tests). */
export class MemoryLogger implements Logger {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'info', message, fields });
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.lines.push({ level: 'error', message, fields });
  }
}
