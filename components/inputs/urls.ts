/** URL inputs (the download base, proxies, registry servers and mirrors): one check, and how errors show a URL. */
import { InvalidInputError } from "./errors";

/** A host name or IP address with an optional port, as distribution/reference reads a registry domain. */
const DOMAIN_PART = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
export const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?`;

/** The characters a URL input may hold: RFC 3986's, without quotes, backslashes or spaces. */
const URL_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

/**
 * Checks an http(s) URL input. Credentials in it (`user:password@`, or `:token@`) are accepted only
 * from a secret, and an error never repeats a secret or credentials.
 */
export function resolveUrl(
  input: string,
  value: unknown,
  { secret, example, credentials }: { secret: boolean; example: string; credentials: boolean },
): string {
  const shown =
    typeof value !== "string" ? JSON.stringify(value) : secret ? "(a secret)" : JSON.stringify(urlForDisplay(value));
  const invalid = (why: string) => new InvalidInputError(input, `${shown} ${why} (e.g. "${example}")`);
  if (typeof value !== "string") throw invalid("is not an http(s) URL");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid("is not an http(s) URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw invalid("is not an http(s) URL");
  if (!URL_CHARACTERS.test(value)) throw invalid("holds characters a URL may not: quotes, backslashes or spaces");
  if (url.search || url.hash) throw invalid("has a query or fragment; none is allowed");
  if (url.username || url.password) {
    if (!credentials) throw invalid("carries credentials; none are allowed here");
    if (!secret) {
      throw invalid(`carries credentials: give ${input} as a secret (pulumi config set --secret, or pulumi.secret)`);
    }
  }
  return value;
}

/**
 * A URL as errors show it: scheme, host and port, and "/…" for a path, which may hold a token;
 * never its credentials.
 */
export function urlForDisplay(value: string): string {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "") === "" ? "" : "/…"}`;
  } catch {
    return "(not a URL)";
  }
}
