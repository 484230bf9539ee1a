import { loadSettings, DEFAULT_CONFIG_PATH, readEnv } from '../src/config';
import { RolegateError } from '../src/domain/errors';

// Usage: npm run validate-config -- [FILE]   (default: $ROLEGATE_CONFIG, then the example; exit 0 valid, 1 invalid)
// Secret parameters and role names are checked against the stack's params: $ROLEGATE_SECRETS_PATH (default
// rolegate), $ROLEGATE_PROVISIONER_ROLE_NAME and $ROLEGATE_IDENTITY_ROLE_NAME (src/config.ts).
const file = process.argv[2] ?? process.env.ROLEGATE_CONFIG ?? DEFAULT_CONFIG_PATH;
try {
  const s = loadSettings(file, readEnv().deployment);
  console.log(`${file}: valid (${s.accounts.length} accounts, ${s.profiles.length} profiles, ${s.rules.length} rules)`);
} catch (e) {
  console.error(e instanceof RolegateError ? e.message : e);
  process.exit(1);
}
