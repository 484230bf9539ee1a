import { loadSettings, parseSettings } from '../../src/config';
import type { Settings } from '../../src/domain/settings';
import { join } from 'node:path';

export const EXAMPLE_CONFIG = join(__dirname, '..', '..', 'config', 'rolegate.example.yaml');

/** The shipped example configuration: the tests exercise what users start from. */
export function exampleSettings(): Settings {
  return loadSettings(EXAMPLE_CONFIG);
}

export function settingsWith(patch: (doc: Record<string, unknown>) => void): Settings {
  const base = JSON.parse(JSON.stringify(exampleSettings())) as Record<string, unknown>;
  patch(base);
  return parseSettings(base);
}

/** The example in aws mode, with the identity role its identity grants need: what a deployed composition runs on. */
export function awsModeSettings(): Settings {
  return settingsWith((doc) => {
    Object.assign(doc.provisioner as Record<string, unknown>, {
      mode: 'aws',
      identityRoleArn: 'arn:aws:iam::111111111111:role/rolegate-identity-granter',
      identityExternalId: 'rolegate-identity-5b1e',
    });
  });
}

export const ARN = {
  alice: 'arn:aws:iam::111111111111:user/alice',
  bob: 'arn:aws:iam::111111111111:user/bob',
  leadAnna: 'arn:aws:iam::111111111111:user/lead-anna',
  leadBen: 'arn:aws:iam::111111111111:user/lead-ben',
  sreSam: 'arn:aws:iam::111111111111:user/sre-sam',
  appRole: 'arn:aws:iam::111111111111:role/app-billing',
  otherRole: 'arn:aws:iam::111111111111:role/ci-deployer',
  /** The example configuration's incident responder (`responders`). */
  responder: 'arn:aws:iam::111111111111:role/security-oncall',
} as const;
