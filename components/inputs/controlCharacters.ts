/**
 * Characters no value may carry into a script: the C0 controls (newline, CR, NUL, ...), DEL, and
 * the Unicode line and paragraph separators. Inputs are refused with them before any script is
 * rendered (see checkNoControlCharacters in options.ts); rendering refuses them again.
 */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f\u2028\u2029]/;
