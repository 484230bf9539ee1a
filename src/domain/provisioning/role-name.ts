import { createHash } from 'node:crypto';
import { principalKey, type Principal } from '../principal';

/** Every role rolegate manages lives under this path, and nothing else does. */
export const ROLE_PATH = '/rolegate/';

/** Console switch-role accepts at most 64 characters of path + name (IAM User Guide, "IAM role management"). */
export const MAX_PATH_AND_NAME = 64;
/** 54: what is left for the name under `/rolegate/`. */
export const MAX_ROLE_NAME = MAX_PATH_AND_NAME - ROLE_PATH.length;
/** Every name rolegate derives starts with this; the provisioner template relies on it. */
export const ROLE_NAME_PREFIX = 'rg-';
const HASH_LENGTH = 8;
/** The shape of every name roleNameFor derives: rg-<readable>-<8 hex>. */
export const GRANT_ROLE_NAME = new RegExp(`^${ROLE_NAME_PREFIX}.+-[0-9a-f]{${HASH_LENGTH}}$`);

/**
 * The role for a grant key: `rg-<profile>-<principal name>-<hash>`, at most
 * 54 characters so that `/rolegate/` + name fits the console's 64.
 *
 * Deterministic, so a re-run after a crash finds the same role. The hash
 * covers the profile and the principal's full identity (partition, account,
 * type, name), so two principals that share a name — alice in two accounts, a
 * user and a role both called deploy — never share a role, whatever the
 * length; only the readable part is cut when the name would be too long.
 * IAM role names are unique regardless of case, and so is a principal's
 * identity (principalKey), so the readable principal name is lowercased:
 * `role/App` and `role/app` are one principal and get one role.
 * When the grant's trust requires an ExternalId, the hash covers it too.
 * A personal grant's role (pinned to one Identity Center session name) is
 * named after the person, `rg-<profile>-<session name>-<hash>`, and its hash
 * covers the session name as it is (IAM compares it case-sensitively).
 */
export function roleNameFor(profile: string, principal: Principal, externalId?: string, session?: string): string {
  // A role whose trust demands an ExternalId is a different role from one that does not (and from one
  // demanding another), so requests with different ExternalId terms never share, and rewrite, one trust.
  // So is a role pinned to a person: from one pinned to another, and from the whole principal's.
  const identity =
    `${profile}|${principalKey(principal)}` + (externalId !== undefined ? `|external-id|${externalId}` : '') + (session !== undefined ? `|session|${session}` : '');
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, HASH_LENGTH);
  const readable = `${ROLE_NAME_PREFIX}${profile}-${(session ?? principal.name).toLowerCase()}`
    .slice(0, MAX_ROLE_NAME - HASH_LENGTH - 1)
    // A cut can leave a dangling separator: `rg-x--1a2b3c4d` reads like a typo.
    .replace(/[-_.]+$/, '');
  return `${readable}-${hash}`;
}
