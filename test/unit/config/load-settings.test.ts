import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../../src/config';
import { ConfigError } from '../../../src/domain/errors';

/** A broken configuration fails a Lambda's cold start, and its message is logged as is: it must not quote the file. */
describe('a configuration file that does not parse', () => {
  const SECRET = 'ext-id-s3cr3t-4f9a';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const failureOf = (name: string, text: string): ConfigError => {
    const path = join(dir, name);
    writeFileSync(path, text);
    try {
      loadSettings(path);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error(`${name} parsed`);
  };

  it.each([
    ['bad.yaml', `accounts:\n  - id: '333333333333'\n    externalId: ${SECRET}\n      alias: production\n`, 'YAML: bad indentation of a mapping entry at line 4, column 12'],
    ['token.json', `{"accounts": [{"externalId": ${SECRET}}]}`, 'JSON: syntax error (an unexpected character)'],
    ['comma.json', `{"accounts": [{"id": "333333333333",\n "externalId": "${SECRET}",}]}`, 'JSON: syntax error at line 2, column 37'],
    ['short.json', `{"accounts": [{"externalId": "${SECRET}"`, 'JSON: syntax error at line 1, column 50'],
    ['empty.json', '', 'JSON: it ends before the document does'],
  ])('%s: says where, never what the file holds there', (name, text, why) => {
    const e = failureOf(name, text);

    expect(e.message).toBe(`${join(dir, name)} is not valid ${why}`);
    expect(e.message).not.toContain(SECRET);
  });
});
