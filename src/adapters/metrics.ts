import { Metrics as PowertoolsMetrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricName, Metrics } from '../domain/ports';

/**
 * Metrics in CloudWatch embedded metric format through Powertools: written
 * as one log line per invocation (flush), turned into metrics by CloudWatch
 * without any API call.
 */
export class EmfMetrics implements Metrics {
  constructor(readonly powertools: PowertoolsMetrics) {}
  count(name: MetricName, value = 1): void {
    this.powertools.addMetric(name, MetricUnit.Count, value);
  }
  milliseconds(name: MetricName, value: number): void {
    this.powertools.addMetric(name, MetricUnit.Milliseconds, value);
  }
  /**
   * Writes what this invocation counted, if anything. Powertools would answer an empty flush with a plain-text
   * warning (not EMF, so no metric either) on every invocation that counted nothing: a GET, a quiet worker batch.
   * Skipping it skips no clean-up: rolegate adds no per-invocation dimensions or metadata for a flush to clear.
   */
  flush(): void {
    if (this.powertools.hasStoredMetrics()) this.powertools.publishStoredMetrics();
  }
}

export function createMetrics(stage: string): EmfMetrics {
  return new EmfMetrics(new PowertoolsMetrics({ namespace: 'rolegate', serviceName: 'rolegate', defaultDimensions: { stage } }));
}

/** Keeps metrics in memory (tests). */
export class MemoryMetrics implements Metrics {
  readonly counts = new Map<MetricName, number>();
  readonly timings: { name: MetricName; value: number }[] = [];
  count(name: MetricName, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }
  milliseconds(name: MetricName, value: number): void {
    this.timings.push({ name, value });
  }
}
