import { main, minutesOf, table } from '../../../src/cli/main';

describe('minutesOf reads a duration the way people type it', () => {
  it.each([
    ['90', 90],
    ['90m', 90],
    ['2h', 120],
    ['1h30m', 90],
    ['0h45m', 45],
    [' 15m ', 15],
  ])('reads %j as %i minutes', (text, minutes) => {
    expect(minutesOf(text)).toBe(minutes);
  });

  it.each(['', ' ', 'x', '1.5h', 'h', 'm', '30s', '-5', '1d', '2 h', '90mm'])('refuses %j with the accepted forms in the message', (text) => {
    expect(() => minutesOf(text)).toThrow(`"${text}" is not a duration (use 90, 90m, 2h or 1h30m).`);
  });
});

describe('table lays out rows for people', () => {
  it('pads every column to its widest cell and trims trailing space', () => {
    expect(
      table(
        ['ID', 'STATUS', 'NOTE'],
        [
          ['a', 'PENDING', ''],
          ['long-id', 'ACTIVE', 'x'],
        ],
      ),
    ).toBe(['ID       STATUS   NOTE', 'a        PENDING', 'long-id  ACTIVE   x'].join('\n'));
  });

  it('prints (none) for no rows', () => {
    expect(table(['ID'], [])).toBe('(none)');
  });
});

describe('help and usage', () => {
  async function run(argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: {} });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it.each([[['help']], [['--help']], [['-h']], [['list', '--help']]])('prints usage on stdout and exits 0 for %j', async (argv) => {
    const r = await run(argv);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain('rolegate <command> [options]');
    for (const command of ['request', 'list', 'show', 'approve', 'deny', 'cancel', 'revoke', 'extend', 'catalog', 'validate-config', 'plan']) expect(r.out).toMatch(new RegExp(`\\s${command}(\\s|$)`, 'm'));
  });

  it('prints usage on stderr and exits 2 without a command', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain('rolegate <command> [options]');
  });
});
