/*
 * Fault injection, shared by the in-memory IAM/STS (fault-iam.ts) and the
 * DynamoDB middleware (fault-dynamodb.ts): numbers every call per service and
 * command while armed, and answers "fail the Nth call to command X with E".
 */

/** Where a call goes: STS, IAM (target or identity account) or DynamoDB. */
export type FaultService = 'sts' | 'iam' | 'dynamodb';

/** One call seen while armed: its service, command and its number among calls to that command (from 1). */
export interface FaultPoint {
  service: FaultService;
  command: string;
  nth: number;
}

export const pointLabel = (p: FaultPoint) => `${p.service}:${p.command}#${p.nth}`;

/**
 * How a faulted call misbehaves.
 * - `throw`: the call fails with `error()`; with effect `after`, the call took
 *   effect first and only its answer is lost (a timeout, a 5xx that "may have
 *   succeeded", a crash right after the step).
 * - `halt`: the invocation dies (Lambda killed, timed out): the call never
 *   answers, no `finally` of the caller runs. With effect `after`, the call
 *   took effect first: a crash between this step and the next.
 * - `replay` (DynamoDB): the call took effect, its answer was lost and the
 *   SDK sent the same request again; the caller sees the second answer.
 */
export interface FaultKind {
  name: string;
  outcome: 'throw' | 'halt' | 'replay';
  effect: 'before' | 'after';
  /** Consecutive calls to the command that misbehave, from the Nth (5 outlasts the provisioner's in-step retries). */
  times: number;
  error?: () => Error;
}

export interface Fault {
  point: FaultPoint;
  kind: FaultKind;
}

/** An error as the AWS SDK raises it: name, fault side and HTTP status. */
export function awsError(name: string, message: string, httpStatusCode: number | undefined): Error {
  return Object.assign(new Error(message), {
    name,
    ...(httpStatusCode !== undefined ? { $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode } } : {}),
  });
}

/** A crash that is not an AWS error at all (a bug, an out-of-memory, a lost socket without a code). */
export class InjectedCrash extends Error {
  constructor(message = 'injected crash') {
    super(message);
    this.name = 'InjectedCrash';
  }
}

export class FaultSchedule {
  private readonly counts = new Map<string, number>();
  private fault: Fault | undefined;
  private armed = false;
  private onHalt: () => void = () => undefined;
  /** Every call numbered while armed, in order; `refused`: the service answered it with an error of its own. */
  readonly calls: (FaultPoint & { faulted?: string; refused?: boolean })[] = [];
  /** Faulted calls, by label. */
  readonly fired: string[] = [];
  /** Resolves when a `halt` fault froze the invocation. */
  halted: Promise<void> = new Promise((r) => (this.onHalt = r));

  /** Starts numbering calls (afresh) and, if given, arms one fault. */
  arm(fault?: Fault): void {
    this.counts.clear();
    this.calls.length = 0;
    this.fired.length = 0;
    this.fault = fault;
    this.armed = true;
    this.halted = new Promise((r) => (this.onHalt = r));
  }

  /** Stops numbering and injecting: set-up, re-runs and assertions see a healthy AWS. */
  disarm(): void {
    this.armed = false;
    this.fault = undefined;
  }

  /** The calls made by `work`, numbered, with no fault injected (and whether the service refused each). */
  async record(work: () => Promise<unknown>): Promise<(FaultPoint & { refused?: boolean })[]> {
    this.arm();
    try {
      await work();
      return this.calls.map(({ service, command, nth, refused }) => ({ service, command, nth, ...(refused ? { refused } : {}) }));
    } finally {
      this.disarm();
    }
  }

  /** Numbers one call; returns the fault kind it must suffer, if any. */
  next(service: FaultService, command: string): FaultKind | undefined {
    if (!this.armed) return undefined;
    const key = `${service}:${command}`;
    const nth = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, nth);
    const f = this.fault;
    const hit = f && f.point.service === service && f.point.command === command && nth >= f.point.nth && nth < f.point.nth + f.kind.times;
    this.calls.push({ service, command, nth, ...(hit ? { faulted: f.kind.name } : {}) });
    if (!hit) return undefined;
    this.fired.push(pointLabel({ service, command, nth }));
    return f.kind;
  }

  /** The call numbered last was answered with the service's own error (IAM's NoSuchEntity, say): it changed nothing. */
  refusedLast(): void {
    const last = this.calls.at(-1);
    if (this.armed && last) last.refused = true;
  }

  /** A promise that never settles, and the signal that the invocation is now frozen. */
  halt(): Promise<never> {
    this.onHalt();
    // Nothing after the frozen call runs; the re-run works on without it.
    this.disarm();
    return new Promise<never>(() => undefined);
  }
}
