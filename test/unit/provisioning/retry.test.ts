import { ATTEMPT_MAX_MS, awsCode, backoffMs, isTransient, withRetry } from '../../../src/adapters/aws/retry';
import { timeLeftMs, withLeaseTime, withRunTime } from '../../../src/domain/time-left';
import { errorForLog, ProvisioningError } from '../../../src/domain/errors';
import { awsError, instantRetry } from './fixtures';

/** A function that fails with the given errors, in order, then returns 'ok'. */
function failing(...errors: unknown[]) {
  let calls = 0;
  const fn = async () => {
    calls++;
    const e = errors.shift();
    if (e) throw e;
    return 'ok';
  };
  return { fn, calls: () => calls };
}

const networkError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('withRetry', () => {
  it.each([
    ['Throttling', awsError('Throttling', 'Rate exceeded')],
    ['ThrottlingException', awsError('ThrottlingException', 'Rate exceeded')],
    ['RequestLimitExceeded', awsError('RequestLimitExceeded', 'slow down')],
    ['TooManyRequestsException', awsError('TooManyRequestsException', 'slow down', 429)],
    ['a 5xx', awsError('SomethingNew', 'bad gateway', 502)],
    ['ServiceFailure', awsError('ServiceFailure', 'failure', 500)],
    ['ConcurrentModification', awsError('ConcurrentModificationException', 'try again')],
    ['a timeout', awsError('TimeoutError', 'socket timed out')],
    ['a reset connection', networkError('ECONNRESET')],
  ])('retries %s and then succeeds', async (_, error) => {
    const f = failing(error);
    const retry = instantRetry();
    await expect(withRetry('GetRole', f.fn, retry.options)).resolves.toBe('ok');
    expect(f.calls()).toBe(2);
    expect(retry.waits).toHaveLength(1);
  });

  it.each([
    ['AccessDenied', 403],
    ['MalformedPolicyDocument', 400],
    ['LimitExceeded', 409],
    ['InvalidInput', 400],
  ])('fails at once on %s, with its code and retryable false', async (name, status) => {
    const said = 'User: arn:aws:sts::222222222222:assumed-role/rolegate-provisioner/rolegate-01ABC is not authorized';
    const f = failing(awsError(`${name}Exception`, said, status));
    const error = await withRetry('PutRolePolicy in account 333333333333', f.fn, instantRetry().options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisioningError);
    // AWS's own text is kept for the log only: it may name rolegate's roles and sessions, and the message reaches people.
    expect(error).toMatchObject({ awsCode: name, retryable: false, awsMessage: said });
    expect((error as Error).message).toMatch(new RegExp(`^PutRolePolicy in account 333333333333 failed: .+ \\(${name}\\)$`));
    expect((error as Error).message).not.toContain('assumed-role');
    expect(errorForLog(error)).toBe(`${(error as Error).message} [AWS: ${said}]`);
    expect(f.calls()).toBe(1);
  });

  const unknownPrincipal = () => awsError('MalformedPolicyDocumentException', 'Invalid principal in policy: "AWS":"arn:aws:iam::111111111111:user/gone"');

  it('says so when IAM refuses a trust because the principal does not exist, after trying again for some seconds, and not as retryable', async () => {
    const f = failing(...Array.from({ length: 5 }, unknownPrincipal));
    const retry = instantRetry();
    await expect(withRetry('CreateRole', f.fn, retry.options)).rejects.toMatchObject({
      awsCode: 'MalformedPolicyDocument',
      retryable: false,
      message: expect.stringMatching(/^CreateRole failed after 5 attempts: IAM does not know the principal the trust policy names: /),
    });
    expect(f.calls()).toBe(5);
    // At least 1, 2, 3 and 4 s apart: a principal created moments before has some 10 s to become known to IAM.
    expect(retry.waits.length).toBe(4);
    retry.waits.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(1000 * (i + 1)));
  });

  it('grants a principal IAM came to know while the step tried again (created moments before the request)', async () => {
    const f = failing(unknownPrincipal(), unknownPrincipal());
    await expect(withRetry('CreateRole', f.fn, instantRetry().options)).resolves.toBe('ok');
    expect(f.calls()).toBe(3);
  });

  it('leaves an unknown principal to be tried again later when too little time is left to give it its seconds, rather than failing it for good', async () => {
    const f = failing(...Array.from({ length: 5 }, unknownPrincipal));
    let left = ATTEMPT_MAX_MS + 1_500;
    const retry = { sleep: async (ms: number) => void (left -= ms) };
    const error = await withLeaseTime(() => left, () => withRetry('CreateRole', f.fn, retry)).catch((e: unknown) => e);
    expect(f.calls()).toBe(2);
    expect(error).toMatchObject({ awsCode: 'MalformedPolicyDocument', retryable: true, message: expect.stringMatching(/^CreateRole failed after 2 attempts: IAM does not know the principal/) });
  });

  it('fails at once on another malformed document', async () => {
    const f = failing(awsError('MalformedPolicyDocumentException', 'Policy document should not specify a principal.'));
    await expect(withRetry('PutRolePolicy', f.fn, instantRetry().options)).rejects.toMatchObject({ awsCode: 'MalformedPolicyDocument', retryable: false });
    expect(f.calls()).toBe(1);
  });

  it('gives up retryably after the configured attempts, saying how many', async () => {
    const f = failing(...Array.from({ length: 10 }, () => awsError('Throttling', 'Rate exceeded')));
    const error = await withRetry('GetRole', f.fn, { ...instantRetry().options, attempts: 3 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ awsCode: 'Throttling', retryable: true, message: expect.stringMatching(/^GetRole failed after 3 attempts: /) });
    expect(f.calls()).toBe(3);
  });

  it('never retries an error rolegate raised itself', async () => {
    const own = new ProvisioningError('held', 'GrantBusy', true);
    const f = failing(own);
    await expect(withRetry('x', f.fn, instantRetry().options)).rejects.toBe(own);
    expect(f.calls()).toBe(1);
  });
});

describe('withRetry within the time its work has (a grant lease)', () => {
  it('sends nothing when too little is left for one attempt', async () => {
    const f = failing();
    const error = await withLeaseTime(() => ATTEMPT_MAX_MS - 1, () => withRetry('CreateRole in account 333333333333', f.fn, instantRetry().options)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProvisioningError);
    expect(error).toMatchObject({ awsCode: 'OutOfTime', retryable: true, message: "CreateRole in account 333333333333 was not sent: too little time is left for it (of the grant's lease or of the function's run); it will be retried" });
    expect(f.calls()).toBe(0);
  });

  it('starts no retry that could outlast it, and fails with the last error, retryable', async () => {
    // Each attempt takes 40 s of a 120 s lease: the fourth would start with 0 s left.
    let left = 120_000;
    const f = failing(...Array.from({ length: 10 }, () => awsError('Throttling', 'Rate exceeded')));
    const timed = async () => {
      left -= 40_000;
      return f.fn();
    };
    const error = await withLeaseTime(() => left, () => withRetry('PutRolePolicy', timed, instantRetry().options)).catch((e: unknown) => e);
    expect(f.calls()).toBe(3);
    expect(error).toMatchObject({ awsCode: 'Throttling', retryable: true, message: expect.stringMatching(/^PutRolePolicy failed after 3 attempts: /) });
  });

  it('is unbounded outside any limit; an inner lease replaces an outer one, and the run\'s limit holds under both', async () => {
    expect(timeLeftMs()).toBe(Infinity);
    expect(await withLeaseTime(() => 1_000, () => withLeaseTime(() => 60_000, async () => timeLeftMs()))).toBe(60_000);
    expect(await withRunTime(() => 30_000, () => withLeaseTime(() => 60_000, () => withLeaseTime(() => 90_000, async () => timeLeftMs())))).toBe(30_000);
    expect(await withLeaseTime(() => 20_000, () => withRunTime(() => 30_000, async () => timeLeftMs()))).toBe(20_000);
    await expect(withRetry('GetRole', failing().fn, instantRetry().options)).resolves.toBe('ok');
  });
});

describe('backoff', () => {
  it('grows exponentially with full jitter, up to a ceiling', () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4].map((i) => backoffMs(i, { random: top }))).toEqual([199, 399, 799, 1599]);
    expect(backoffMs(20, { random: top, maxMs: 5000 })).toBe(4999);
    expect(backoffMs(3, { random: () => 0 })).toBe(0);
  });
});

describe('error codes', () => {
  it('reads the AWS code without the SDK suffix, and network codes from Node errors', () => {
    expect(awsCode(awsError('NoSuchEntityException', 'x'))).toBe('NoSuchEntity');
    expect(awsCode(networkError('ETIMEDOUT'))).toBe('ETIMEDOUT');
    expect(awsCode(new TypeError('bug'))).toBe('TypeError');
    expect(isTransient(new TypeError('bug'))).toBe(false);
  });
});
