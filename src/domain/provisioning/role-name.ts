import { createHash } from 'node:crypto';
import { principalKey, type Principal } from '../principal';

/** Every role rolegate manages lives under this path, and nothing else does. */
export const ROLE_PATH = '/rolegate/';

/** Console switch-role accepts at most 64 characters of path + name. */
export const MAX_PATH_AND_NAME = 64;
export const MAX_ROLE_NAME = MAX_PATH_AND_NAME - ROLE_PATH.length;
const HASH_LENGTH = 8;

/**
 * The role for a grant key: `rg-<profile>-<principal name>-<hash>`,
 * deterministic so a re-run always finds the same role. The hash covers the
 * profile and the principal's full identity (partition, account, type, name),
 * so two principals that share a name never share a role; the readable part
 * is cut when path + name would pass 64 characters.
 */
export function roleNameFor(profile: string, principal: Principal): string {
  const hash = createHash('sha256').update(`${profile}|${principalKey(principal)}`).digest('hex').slice(0, HASH_LENGTH);
  const readable = `rg-${profile}-${principal.name}`.slice(0, MAX_ROLE_NAME - HASH_LENGTH - 1).replace(/[-_.]+$/, '');
  return `${readable}-${hash}`;
}
