import { loadSettings, DEFAULT_CONFIG_PATH, summarizeSettings, toolDeployment } from '../src/config';
import { RolegateError } from '../src/domain/errors';

// Usage: npm run validate-config -- [FILE]   (default: $ROLEGATE_CONFIG, then the example; exit 0 valid, 1 invalid)
// Secret parameters and role names are checked against serverless.yml's params (default, then $ROLEGATE_STAGE's),
// overridden by $ROLEGATE_SECRETS_PATH, $ROLEGATE_PROVISIONER_ROLE_NAME, $ROLEGATE_IDENTITY_ROLE_NAME, $ROLEGATE_AUTH (src/config.ts).
const file = process.argv[2] ?? process.env.ROLEGATE_CONFIG ?? DEFAULT_CONFIG_PATH;
try {
  console.log(`${file}: valid (${summarizeSettings(loadSettings(file, toolDeployment()))})`);
} catch (e) {
  console.error(e instanceof RolegateError ? e.message : e);
  process.exit(1);
}
