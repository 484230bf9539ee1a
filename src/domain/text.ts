/**
 * What free text (a reason, a comment) may not hold, through the HTTP API and
 * Slack alike: control characters other than tab and line breaks (C0, DEL and
 * C1, which some terminals act on), and the invisible characters that change
 * how a text reads without showing: every format character (Unicode's Cf:
 * the zero-width space, word joiner and byte-order mark, the soft hyphen, the
 * invisible math operators, the bidirectional marks, embeddings, overrides
 * and isolates, with which a reason can show an approver one thing and say
 * another, "Trojan Source", and the tag characters that can carry a hidden
 * second text), the line and paragraph separators, and the characters that
 * draw nothing although they are letters or marks (the combining grapheme
 * joiner, the Hangul and Khmer fillers, the Mongolian variation selectors).
 * The zero-width joiner and non-joiner stay allowed, as do the two
 * variation selectors of emoji (text and emoji style): scripts and emoji
 * sequences need them. The other variation selectors, which can carry a
 * hidden text byte by byte as tag characters can, are refused. (Flags of
 * England, Scotland and Wales are spelt with tag characters: refused too.)
 */
export const HIDDEN_CHARACTERS = /(?![\t\n\r\u200c\u200d])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\ufe00-\ufe0d\u{e0100}-\u{e01ef}]/u;

/**
 * Text in lower case in its ASCII letters only, as mail systems fold an
 * address: `toLowerCase` also folds look-alikes (the Kelvin sign U+212A to
 * `k`), so "\u212Aate@corp.com" would sign in as kate@corp.com.
 */
export function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

/*
 * The names a request gives, checked alike by the configuration, the HTTP API
 * and Slack commands.
 */
/** A profile's or rule's name. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;
/** An account's alias (the configuration also refuses 12 digits, which read as an id). */
export const ACCOUNT_ALIAS = /^[a-z0-9][a-z0-9-]{0,62}$/;
/**
 * A request id: a ULID (src/adapters/system.ts) as rolegate writes it, in
 * upper case; its first character is 0–7 (its 48-bit time fills 10
 * characters of 5 bits), so 8ZZ… is no id, refused as such, not looked for.
 */
export const REQUEST_ID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
/** The same in either case, as a caller may type it: spelt out, since an OpenAPI pattern takes no flags. */
export const REQUEST_ID_ANY_CASE = /^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$/;
/** How a request names an account: its alias or its 12-digit id. */
export const ACCOUNT_REF = /^(\d{12}|[a-z0-9][a-z0-9-]{0,62})$/;
/** A ticket id: 1–64 letters, digits and ._#:/- (as Jira, ServiceNow or a URL path write them). */
export const TICKET_ID = /^[A-Za-z0-9][A-Za-z0-9._#:/-]{0,63}$/;

/**
 * Half of a UTF-16 surrogate pair, alone: JSON's `\ud800` escape makes one.
 * It is no character; it cannot be written as UTF-8, and strict JSON readers
 * (Python's encoder, Rust's serde_json) refuse a document that holds it, so
 * one reason holding it would break an approver's listing.
 */
export const LONE_SURROGATE = /\p{Cs}/u;
export const LONE_SURROGATE_REASON = 'must be well-formed Unicode (it holds half of a surrogate pair)';

/** Why such a text is refused, in the words of a validation reason. */
export const HIDDEN_CHARACTERS_REASON = 'must not hold control, invisible or text-direction characters';
