/**
 * Hostile strings for property-based tests (fast-check): shell metacharacters and command
 * substitutions that would run `touch <marker>` if a value ever reached a shell unquoted, every
 * here-document word the root commands use (and have used) followed by `)`, control characters,
 * Unicode separators and long values. Each kind comes in two forms: any hostile text (refused or
 * accepted), and hostile text an input's own rules accept, so that accepted values are exercised too.
 */
import * as fc from "fast-check";
import { SCRIPT_DELIMITER_PREFIX } from "../../components/worker/shell";

/** Every character the inputs refuse (CONTROL_CHARACTERS, global). */
export const CONTROLS = /[\u0000-\u001f\u007f\u2028\u2029]/g;

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: length, maxLength: length });

/** The hostile alphabet around one marker path: each piece would create the marker if run. */
export function hostile(marker: string) {
  const runs = [
    `$(touch ${marker})`,
    `$(touch\${IFS}${marker})`,
    `\`touch ${marker}\``,
    `;touch ${marker};`,
    `|touch\${IFS}${marker}`,
    `&&touch\${IFS}${marker}`,
    `'$(touch\${IFS}${marker})'`,
    `"$(touch\${IFS}${marker})"`,
    `'; touch ${marker}; '`,
    `'\\''$(touch\${IFS}${marker})'\\''`,
    `\\'$(touch\${IFS}${marker})`,
    `$(touch MARKER)`,
    `$(touch$IFS${marker})`,
    `\${IFS}`,
    "$IFS",
  ];
  const heredocWords = [SCRIPT_DELIMITER_PREFIX, "EOF", "CONTAINERD_WORKER_ROOT_SCRIPT"];
  const breakout = fc.tuple(fc.constantFrom(...heredocWords), hex(20), fc.boolean()).map(([word, digest, withHex]) => {
    const line = word === SCRIPT_DELIMITER_PREFIX || withHex ? `${word}${withHex ? digest : ""}` : word;
    return `\n${line})\ntouch ${marker}\n${line}\n`;
  });
  const quotes = ["'", '"', "\\", "`", "$", "'\"'\"'", "'\\''", "$'\\x27'", "\\n", "%s", "%n", "%%", "%b"];
  const shellish = ["*", "?", "[", "]", "[[", "]]", "{", "}", "~", "!", "#", "&", ";", "|", "<", ">", "<<", "(", ")"];
  const words = ["-e", "--", "-", "=", "===", "=== a/hosts.toml", "|x", "..", "../", "/", "@", ":", "__proto__"];
  const spaces = [" ", "  ", "\u00a0", "\u3000", "\ufeff", "\u200b"];
  const unicode = ["ü", "☃", "😀", "\u202e", "\u0085", "é", "ﬀ", "\u{10ffff}"];
  const controls = ["\n", "\r", "\r\n", "\u0000", "\t", "\u001b[0m", "\u007f", "\u0001", "\u001f", "\u2028", "\u2029"];
  const fixed = [...runs, ...quotes, ...shellish, ...words, ...spaces, ...unicode];
  const piece = (withControls: boolean): fc.Arbitrary<string> => {
    const loose = (arb: fc.Arbitrary<string>) => (withControls ? arb : arb.map((text) => text.replace(CONTROLS, "")));
    return fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...fixed) },
      { weight: withControls ? 3 : 0, arbitrary: fc.constantFrom(...controls) },
      { weight: 2, arbitrary: loose(breakout) },
      { weight: 1, arbitrary: loose(fc.constantFrom(...heredocWords)) },
      { weight: 2, arbitrary: loose(fc.string({ unit: "binary", maxLength: 6 })) },
      { weight: 2, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 8 }) },
      // Very long values: a piece repeated hundreds to thousands of times.
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom("x", "'", "$(", "ü", "'\\''", "a b"), fc.integer({ min: 200, max: 3000 }))
          .map(([repeated, times]) => repeated.repeat(times)),
      },
    );
  };
  const text = (withControls: boolean, minLength = 0) =>
    fc.array(piece(withControls), { minLength: Math.max(minLength, 0), maxLength: 7 }).map((parts) => parts.join(""));

  /**
   * URL characters an input's URL rules allow (RFC 3986's: no quote but `'`, no backslash, no space, no
   * braces), so a command is spelled `$(touch$IFS/path)`.
   */
  const urlPiece = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.constantFrom(`$(touch$IFS${marker})`, `;touch$IFS${marker};`, `&&touch$IFS${marker}`),
    },
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        "'",
        "$IFS",
        "$",
        "(",
        ")",
        ";",
        "&",
        "*",
        "!",
        "=",
        "+",
        ",",
        "%41",
        "%0A",
        "%27",
        "%",
        "~",
        "@",
        ":",
        "[",
        "]",
        "..",
        "/",
        "-",
        "_",
        "EOF",
        `${SCRIPT_DELIMITER_PREFIX})`,
        "CONTAINERD_WORKER_ROOT_SCRIPT)",
        "'$(id)'",
      ),
    },
    { weight: 2, arbitrary: hex(20).map((digest) => `${SCRIPT_DELIMITER_PREFIX}${digest})`) },
    { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom(..."abcXYZ019-._~"), minLength: 1, maxLength: 10 }) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 1500 }).map((times) => "a'".repeat(times)) },
  );
  const urlPath = fc.array(urlPiece, { maxLength: 8 }).map((parts) => (parts.length === 0 ? "" : `/${parts.join("")}`));
  const host = fc.constantFrom("mirror.invalid", "127.0.0.1:8080", "[::1]:5000", "a-b.example:443", "x.invalid");
  const userinfoPiece = fc.constantFrom("'", "$(id)", "$IFS", ";", "&", "!", "*", "%27", "u", "p4ss", "(", ")", "=");
  const userinfo = fc
    .tuple(fc.array(userinfoPiece, { maxLength: 4 }), fc.array(userinfoPiece, { minLength: 1, maxLength: 4 }))
    .map(([user, password]) => `${user.join("")}:${password.join("")}@`);
  /** An http(s) URL the URL rules accept, with a hostile path (and hostile credentials when `credentials`). */
  const url = (credentials: boolean, trailing = fc.constantFrom("", "/", "//")) =>
    fc
      .tuple(
        fc.constantFrom("http", "https"),
        credentials ? fc.option(userinfo) : fc.constant(null),
        host,
        urlPath,
        trailing,
      )
      .map(([scheme, creds, at, pathText, tail]) => `${scheme}://${creds ?? ""}${at}${pathText}${tail}`);

  return {
    /** Any hostile text, control characters included. */
    anyText: text(true),
    /** Hostile text without control characters: what free-text inputs accept. */
    text: (minLength = 0) => text(false, minLength),
    url,
  };
}

/** `value` with a control character put somewhere in it: every input must refuse it. */
export function withControl(value: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(value, fc.constantFrom("\n", "\r", "\u0000", "\u0007", "\u001b", "\u007f", "\u2028", "\u2029"), fc.nat())
    .map(([text, control, at]) => {
      const index = text.length === 0 ? 0 : at % (text.length + 1);
      return `${text.slice(0, index)}${control}${text.slice(index)}`;
    });
}
