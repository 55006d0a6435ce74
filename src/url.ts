/**
 * URL handling without `URL`: the mini program runtime may not have it.
 * Only what the kit needs: resolve against `baseURL`, and compare exact origins.
 */

/** `[url, scheme, authority]` of an absolute URL, else null. Anchored: `/a?next=https://b` is relative. */
const absolute = (url: string) => /^([a-z][a-z\d+.-]*):\/\/([^/?#]*)/i.exec(url);
// A scheme such as "constructor" finds a truthy inherited value here; harmless, since a token
// goes only where the whole origin string equals a configured http(s) origin.
const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/**
 * The origin `scheme://host[:port]` of an absolute http(s) URL, lower-cased, default port dropped;
 * `null` when it is not absolute http(s) or its authority is suspicious: user info
 * (`https://a.com@evil.com` is evil.com), a backslash, whitespace or a control character makes it
 * `null`, because parsers disagree about those and a token must never go where we are unsure.
 */
export function originOf(url: string): string | null {
  const m = absolute(url);
  const scheme = m && m[1].toLowerCase();
  // Only http and https have a default port here: anything else is no origin of ours.
  if (!m || !DEFAULT_PORT[scheme!] || /[@\\\s\u0000-\u001f\u007f]/.test(m[2])) return null;
  // A host (or a bracketed IPv6 address) and an optional port of digits, nothing else.
  const hp = /^(\[[\da-f:.]+\]|[^:[\]]+)(?::(\d*))?$/i.exec(m[2]);
  if (!hp) return null;
  const port = hp[2] && +hp[2] !== DEFAULT_PORT[scheme!] ? ':' + +hp[2] : '';
  return `${scheme}://${hp[1].toLowerCase()}${port}`;
}

/**
 * Resolves a request URL: absolute URLs are kept; anything else (`/api/me`, `api/me`, even
 * `//host/x`) is joined to baseURL with exactly one `/`, so a path prefix like
 * `https://api.example.com/v1` is kept and a relative URL never leaves baseURL's origin.
 */
export function resolveURL(baseURL: string, url: string): string {
  return absolute(url) ? url : baseURL.replace(/\/+$/, '') + '/' + url.replace(/^\/+/, '');
}
