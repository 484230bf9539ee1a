/**
 * What free text (a reason, a comment) may not hold, through the HTTP API and
 * Slack alike: control characters other than tab and line breaks (C0, DEL and
 * C1, which some terminals act on), and the invisible characters that change
 * how a text reads without showing: the zero-width space, word joiner and
 * byte-order mark, the line and paragraph separators, and the bidirectional
 * marks, embeddings, overrides and isolates, with which a reason can show an
 * approver one thing and say another ("Trojan Source"). The zero-width
 * joiner and non-joiner stay allowed: scripts and emoji sequences need them.
 */
export const HIDDEN_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/;

/** Why such a text is refused, in the words of a validation reason. */
export const HIDDEN_CHARACTERS_REASON = 'must not hold control, invisible or text-direction characters';
