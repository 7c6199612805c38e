/**
 * Inputs as JavaScript programs written for 0.1 may still give them, where the type has since narrowed:
 * `headers` values are typed `string[]`, and the component still takes a single string as one value.
 */
export const legacyHeaders = (headers: Record<string, string | string[]>) => headers as Record<string, string[]>;
