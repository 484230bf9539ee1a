import type { Context } from 'aws-lambda';
import type { Logger } from '../domain/ports';
import { withRunTime } from '../domain/time-left';
import type { ProvisioningDeps } from '../domain/use-cases/provisionRequest';

/*
 * How long rolegate waits for a busy grant's lease, by who is waiting: a person
 * (the HTTP API, a Slack job) briefly; the worker and the sweeper until only
 * the time their IAM work needs is left.
 */

/**
 * A person waiting for the answer (the HTTP API, a Slack job) waits for a
 * busy grant's lease about 4 s at most (12 attempts), not the worker's and
 * sweeper's ~18 s: the api function has 29 s, a Slack job runs inside the
 * worker's time budget, and "busy, try again" beats a timeout that leaves
 * the lease held until it lapses.
 */
export const INTERACTIVE_LEASE_ATTEMPTS = 12;

export function interactiveDeps(deps: ProvisioningDeps): ProvisioningDeps {
  return { ...deps, lease: { ...deps.lease, attempts: Math.min(deps.lease?.attempts ?? INTERACTIVE_LEASE_ATTEMPTS, INTERACTIVE_LEASE_ATTEMPTS) } };
}

/**
 * Deps whose lease waits end once the invocation has `workMs` or less left,
 * so that what follows the lease (IAM and STS calls, the commit) still fits.
 * The work ends GrantBusy (retryable) instead, and is taken up again later.
 */
export function leaseWaitsWithin(deps: ProvisioningDeps, remainingMs: () => number, workMs: number): ProvisioningDeps {
  return { ...deps, lease: { ...deps.lease, keepWaiting: () => remainingMs() > workMs } };
}

/** Kept back after a run's last STS or IAM attempt: the commit that records what it did. */
export const RUN_MARGIN_MS = 2_000;

/**
 * Runs a function's work so that no STS or IAM attempt starts that could
 * outlast the invocation (withRetry reads the limit): a run killed by its
 * timeout mid-change would leave its grant's lease held until it lapses.
 */
export function withinRun<T>(remainingMs: () => number, work: () => Promise<T>): Promise<T> {
  return withRunTime(() => remainingMs() - RUN_MARGIN_MS, work);
}

/** What a scheduled or stream invocation needs of the Lambda context: its time left and, deployed, its request id. */
export type InvocationContext = Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>;

/**
 * Runs a worker, sweeper or reconciler invocation: within its time
 * (withinRun), with Lambda's request id on every line it logs (as the API's
 * lines carry theirs, so one run's lines, and the REPORT line of its
 * duration, can be found together), and its metrics flushed even when it
 * fails, so that what it counted (a failed provisioning, a crashed record)
 * reaches its alarm.
 */
export async function invocation<T>(run: { logger: Logger; flushMetrics: () => void }, context: InvocationContext, work: () => Promise<T>): Promise<T> {
  if (context.awsRequestId) run.logger.setCorrelation?.({ awsRequestId: context.awsRequestId });
  try {
    return await withinRun(() => context.getRemainingTimeInMillis(), work);
  } finally {
    run.flushMetrics();
    if (context.awsRequestId) run.logger.setCorrelation?.(undefined);
  }
}
