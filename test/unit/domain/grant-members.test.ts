import { liveMembers } from '../../../src/domain/grants';

/*
 * Which requests keep a shared grant (one role) alive. An end is exclusive,
 * as the role's trust (DateLessThan aws:CurrentTime) makes it: at its end a
 * request no longer holds the role open.
 */

const NOW = '2026-03-02T10:00:00.000Z';

it('keeps the members whose end is still ahead, and drops one whose end is now or past', () => {
  const members = { past: '2026-03-02T09:59:59.999Z', now: NOW, ahead: '2026-03-02T10:00:00.001Z', later: '2026-03-02T13:00:00.000Z' };

  expect(liveMembers(members, NOW)).toEqual({ ahead: '2026-03-02T10:00:00.001Z', later: '2026-03-02T13:00:00.000Z' });
});
