/**
 * A client for the Docker Registry HTTP API v2 (the distribution project, Debian's docker-registry): what the
 * master shows about repositories and tags, and how it checks a registry's address and credentials when an
 * admin adds one. Basic auth only (a token-auth registry answers 401 with a Bearer challenge; the error says
 * so). Pure fetch: no Node-only module, so the CLI could use it too.
 */

export interface RegistryEndpoint {
  /** host[:port], or a URL with scheme (http:// is assumed for loopback hosts, https:// otherwise). */
  url: string;
  username?: string;
  password?: string;
}

export interface TagInfo {
  tag: string;
  digest: string | null;
}

export class RegistryError extends Error {
  readonly code = 'registry_error';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/** The base URL of a registry: `127.0.0.1:5000` -> `http://127.0.0.1:5000`. */
export function registryBaseUrl(url: string): string {
  if (/^https?:\/\//.test(url)) return url.replace(/\/+$/, '');
  const host = url.replace(/\/+$/, '');
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(host);
  return `${loopback ? 'http' : 'https'}://${host}`;
}

/** host[:port] as image references name it (`127.0.0.1:5000/shop/web`). */
export function registryHost(url: string): string {
  return url.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

export class RegistryClient {
  private readonly base: string;
  constructor(private readonly endpoint: RegistryEndpoint) {
    this.base = registryBaseUrl(endpoint.url);
  }

  /** Checks the address and credentials: GET /v2/ must answer 200. */
  async ping(): Promise<void> {
    await this.request('/v2/');
  }

  /** Repositories, optionally only those under `prefix/` (the registry's catalog, paged). */
  async repositories(prefix?: string, limit = 1000): Promise<string[]> {
    const out: string[] = [];
    let path: string | null = `/v2/_catalog?n=${Math.min(limit, 1000)}`;
    while (path && out.length < limit) {
      const res = await this.request(path);
      const body = (await res.json()) as { repositories?: string[] };
      for (const r of body.repositories ?? []) if (!prefix || r === prefix || r.startsWith(`${prefix}/`)) out.push(r);
      path = nextLink(res.headers.get('link'));
    }
    return out.slice(0, limit);
  }

  /** Tags of a repository with their manifest digests; [] for a repository the registry does not know. */
  async tags(repository: string): Promise<TagInfo[]> {
    let res: Response;
    try {
      res = await this.request(`/v2/${repository}/tags/list`);
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return [];
      throw e;
    }
    const body = (await res.json()) as { tags?: string[] | null };
    const tags = (body.tags ?? []).sort();
    return Promise.all(tags.map(async (tag) => ({ tag, digest: await this.digest(repository, tag) })));
  }

  /** The manifest digest of repository:tag, or null when there is none. */
  async digest(repository: string, tag: string): Promise<string | null> {
    try {
      const res = await this.request(`/v2/${repository}/manifests/${tag}`, 'HEAD');
      return res.headers.get('docker-content-digest');
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return null;
      throw e;
    }
  }

  private async request(path: string, method = 'GET'): Promise<Response> {
    const headers: Record<string, string> = { accept: MANIFEST_TYPES };
    if (this.endpoint.username) {
      headers.authorization = `Basic ${btoa(`${this.endpoint.username}:${this.endpoint.password ?? ''}`)}`;
    }
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, signal: AbortSignal.timeout(10_000) });
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw new RegistryError(`registry ${this.endpoint.url} is unreachable: ${cause}`);
    }
    if (res.ok) return res;
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      throw new RegistryError(
        /^bearer/i.test(challenge)
          ? `registry ${this.endpoint.url} wants token authentication, which Slipway does not speak yet (basic auth only)`
          : `registry ${this.endpoint.url} refused the credentials${this.endpoint.username ? ` of user ${this.endpoint.username}` : ' (none given)'}`,
        401,
      );
    }
    throw new RegistryError(`registry ${this.endpoint.url} answered ${res.status} to ${method} ${path.split('?')[0]}`, res.status);
  }
}

/** `</v2/_catalog?last=x&n=100>; rel="next"` -> `/v2/_catalog?last=x&n=100`. */
function nextLink(link: string | null): string | null {
  const m = link && /<([^>]+)>;\s*rel="next"/.exec(link);
  return m ? m[1] : null;
}
