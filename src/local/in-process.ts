import type { InProcessWork } from '../compose';
import { provisionRequest } from '../domain/use-cases/provisionRequest';
import { runSlackJob } from '../handlers/slack/run-job';

/**
 * The local run's in-process work: what a deployment's worker does from the
 * table's stream, done here as it is asked for. Only the local run (and
 * tests of it) import this module, so no deployed function's bundle holds it.
 */
export const IN_PROCESS: InProcessWork = { provision: provisionRequest, runSlackJob };
