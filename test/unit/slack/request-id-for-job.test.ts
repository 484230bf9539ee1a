import { decodeTime, isValid } from 'ulid';
import { requestIdForJob } from '../../../src/handlers/slack/run-job';

describe('requestIdForJob', () => {
  const job = { id: 'cmd:13345224609.738474920.8088930838d88f008e0', createdAt: '2026-03-02T08:59:58.250Z' };

  it('names the same request on every run of a job, as a ULID with the job\'s time', () => {
    const id = requestIdForJob(job)!;

    expect(requestIdForJob({ ...job })).toBe(id);
    expect(isValid(id)).toBe(true);
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(decodeTime(id)).toBe(Date.parse(job.createdAt));
  });

  it('names different requests for different jobs made in the same millisecond', () => {
    expect(requestIdForJob({ ...job, id: 'cmd:13345224609.738474920.other' })).not.toBe(requestIdForJob(job));
  });

  it('names none for a job taken before jobs carried their time (a fresh id is used)', () => {
    expect(requestIdForJob({ id: job.id })).toBeUndefined();
    expect(requestIdForJob({ id: job.id, createdAt: 'not a time' })).toBeUndefined();
  });
});
