/**
 * Whether a rule's list of accounts or profiles names a thing (by any of its
 * names: an account's id or alias) or holds `*`. Its own module: the
 * configuration schema checks rules with it too, without loading rules.ts.
 */
export function ruleNames(list: readonly string[], ...names: string[]): boolean {
  return list.some((x) => x === '*' || names.includes(x));
}
