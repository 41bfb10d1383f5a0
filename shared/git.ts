/**
 * Pure Git helpers shared by master (webhook matching, polling) and agent (checkout): repository URL
 * normalisation, and the checks that refuse URLs and refs able to inject options or protocols into git.
 */
import { badRequest } from './errors';

/**
 * Host and path of a repository, lower-cased host, without credentials, scheme, port, trailing slash or
 * `.git`, so the https, ssh and scp-like forms of one repository compare equal:
 *   https://user:tok@Git.Example:8443/shop/web.git -> git.example/shop/web
 *   git@git.example:shop/web.git                   -> git.example/shop/web
 *   ssh://git@git.example:22/shop/web              -> git.example/shop/web
 *   file:///srv/git/web.git or /srv/git/web.git    -> file/srv/git/web
 */
export function normalizeRepoUrl(raw: string): string {
  const url = raw.trim();
  const strip = (p: string) => p.replace(/\/+$/, '').replace(/\.git$/i, '').replace(/^\/+/, '').replace(/\/{2,}/g, '/');
  if (url.startsWith('/')) return `file/${strip(url)}`;
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/\/)(.+)$/.exec(url);
  if (scp && !url.includes('://')) {
    return `${scp[1].toLowerCase()}/${strip(scp[2])}`;
  }
  try {
    const u = new URL(url);
    if (u.protocol === 'file:') return `file/${strip(decodeURIComponent(u.pathname))}`;
    return `${u.hostname.toLowerCase()}/${strip(decodeURIComponent(u.pathname))}`;
  } catch {
    return strip(url.toLowerCase());
  }
}

const ALLOWED_SCHEMES = new Set(['http:', 'https:', 'ssh:', 'git:', 'file:']);

/**
 * Throws invalid_request when a repository URL could make git run a command or read an option:
 * a leading '-', the ext:: / fd:: transports, other schemes, control characters.
 * Accepts http(s), ssh, git, file URLs, scp-like `user@host:path` and absolute paths.
 */
export function assertSafeRepoUrl(url: string, field = 'repo.url'): void {
  const why = unsafeRepoUrl(url);
  if (why) throw badRequest(`${field}: ${why}`);
}

export function unsafeRepoUrl(url: string): string | null {
  if (!url) return 'repository URL is empty';
  if (/[\0-\x1f\x7f]/.test(url)) return 'repository URL contains control characters';
  if (url.startsWith('-')) return `repository URL '${url}' starts with '-' (would be read as an option)`;
  if (/^[a-z0-9+.-]+::/i.test(url)) return `repository URL '${url}' uses a git remote helper transport (${url.split('::')[0]}::), refused`;
  if (url.startsWith('/')) return null;
  if (url.includes('://')) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return `repository URL '${url}' is not a valid URL`;
    }
    if (!ALLOWED_SCHEMES.has(u.protocol)) return `repository URL scheme '${u.protocol}' is not allowed (http, https, ssh, git, file)`;
    if (u.hostname.startsWith('-') || u.username.startsWith('-')) return `repository URL '${url}' has a host or user starting with '-'`;
    return null;
  }
  // scp-like user@host:path. The host may not hold '@' (else `git@-oProxyCommand=x:repo` matches with the
  // user skipped) nor start with '-' (ssh would read it as an option), exactly like ssh:// URLs above.
  if (/^(?:[^@/\s]+@)?[^:/\s@-][^:/\s@]*:[^\s]+$/.test(url)) return null;
  if (/^(?:[^@/\s]+@)?-/.test(url)) return `repository URL '${url}' has a host or user starting with '-'`;
  return `repository URL '${url}' is not an http(s), ssh, git or file URL, an scp-like address or an absolute path`;
}

/** Throws invalid_request for a ref that git would read as an option or that git check-ref-format refuses. */
export function assertSafeRef(ref: string, field = 'ref'): void {
  const why = unsafeRef(ref);
  if (why) throw badRequest(`${field}: ${why}`);
}

export function unsafeRef(ref: string): string | null {
  if (!ref) return 'ref is empty';
  if (ref.startsWith('-')) return `ref '${ref}' starts with '-' (would be read as an option)`;
  if (/[\0-\x20\x7f~^:?*[\\]/.test(ref)) return `ref '${ref}' contains a character git refuses in ref names`;
  if (ref.includes('..') || ref.includes('@{') || ref.includes('//')) return `ref '${ref}' contains '..', '@{' or '//'`;
  if (ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock') || ref.startsWith('/')) return `ref '${ref}' has a bad start or end`;
  if (ref.split('/').some((part) => part.startsWith('.'))) return `ref '${ref}' has a component starting with '.'`;
  return null;
}

export const SHA_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
export const ZERO_SHA_RE = /^0+$/;

/** refs/heads/main -> {branch: 'main'}; refs/tags/v1 -> {tag: 'v1'}; anything else -> {}. */
export function parseRef(ref: string): { branch?: string; tag?: string } {
  if (ref.startsWith('refs/heads/')) return { branch: ref.slice('refs/heads/'.length) };
  if (ref.startsWith('refs/tags/')) return { tag: ref.slice('refs/tags/'.length) };
  return {};
}

/** "[ci skip]" or "[skip ci]" (any case) in a commit message. */
export function hasSkipMarker(message: string | undefined): boolean {
  return !!message && /\[(ci skip|skip ci)\]/i.test(message);
}
