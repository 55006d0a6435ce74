/**
 * URL handling without `URL`: the mini program runtime may not have it.
 * Only what the kit needs: resolve against `baseURL`, and compare exact origins.
 */

const ABSOLUTE = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i;
const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443', ws: '80', wss: '443' };

/**
 * The origin `scheme://host[:port]` of an absolute http(s) URL, lower-cased, default port dropped;
 * `null` when it is not absolute or its authority is suspicious. `https://a.com@evil.com` has host
 * `evil.com`; a backslash, whitespace or control character makes it `null`, because parsers
 * disagree about those and a token must never go where we are unsure.
 */
export function originOf(url: string): string | null {
  const m = ABSOLUTE.exec(url);
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  let authority = m[2];
  if (/[\\\s\u0000-\u001f\u007f]/.test(authority)) return null;
  const at = authority.lastIndexOf('@');
  if (at !== -1) authority = authority.slice(at + 1);
  const hostPort = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d*))?$/i.exec(authority);
  if (!hostPort) return null;
  const host = hostPort[1].toLowerCase().replace(/\.$/, '');
  const port = hostPort[2] && hostPort[2] !== DEFAULT_PORT[scheme] ? `:${Number(hostPort[2])}` : '';
  return host ? `${scheme}://${host}${port}` : null;
}

/**
 * Resolves a request URL: absolute URLs are kept, `//host/x` takes baseURL's scheme,
 * anything else is joined to baseURL with exactly one `/` (so a baseURL path prefix like
 * `https://api.example.com/v1` is kept).
 */
export function resolveURL(baseURL: string, url: string): string {
  if (ABSOLUTE.test(url)) return url;
  if (url.startsWith('//')) return `${baseURL.slice(0, baseURL.indexOf(':') + 1)}${url}`;
  return `${baseURL.replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
}
