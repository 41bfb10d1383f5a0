/**
 * Pushes a tagged image to its registry and reports what the registry now holds: the manifest digest (the
 * identity promotion deploys), the manifest size, and how many layers were uploaded versus already present
 * (a rebuild that changed only app files uploads one layer).
 */
import type Docker from 'dockerode';
import { followProgress, progressError } from './engine';
import { splitReference } from './image-build';

export interface RegistryAuth {
  username: string;
  password: string;
  /** Registry host[:port] the credentials are for. */
  serveraddress: string;
}

export interface PushedImage {
  reference: string;
  /** `sha256:...` digest of the pushed manifest. */
  digest: string;
  /** Manifest size in bytes as the registry reports it. */
  size: number;
  layersPushed: number;
  layersReused: number;
}

export class ImagePushError extends Error {
  readonly code = 'image_push_failed';
  constructor(message: string) {
    super(message);
    this.name = 'ImagePushError';
  }
}

export async function pushImage(
  docker: Docker,
  reference: string,
  opts: { auth?: RegistryAuth; signal?: AbortSignal; log: (text: string) => void },
): Promise<PushedImage> {
  const { repo, tag } = splitReference(reference);
  let stream: NodeJS.ReadableStream;
  try {
    // dockerode reads `authconfig` from the options (sent as X-Registry-Auth); an anonymous push still needs
    // the header, hence the empty object.
    stream = await docker.getImage(`${repo}:${tag}`).push({ tag, authconfig: (opts.auth ?? {}) as Docker.AuthConfig, abortSignal: opts.signal });
  } catch (e) {
    throw new ImagePushError(`pushing ${reference} failed: ${(e as Error).message}`);
  }
  let digest: string | undefined;
  let size = 0;
  let error: string | undefined;
  const pushed = new Set<string>();
  const reused = new Set<string>();
  await followProgress(docker, stream, (m) => {
    const err = progressError(m);
    if (err) {
      error = err;
      return;
    }
    if (m.aux && typeof m.aux.Digest === 'string') {
      digest = m.aux.Digest;
      size = typeof m.aux.Size === 'number' ? m.aux.Size : 0;
    }
    if (m.id && m.status === 'Pushed') pushed.add(m.id);
    // A layer the registry holds in another repository is mounted, not uploaded.
    if (m.id && (m.status === 'Layer already exists' || m.status?.startsWith('Mounted from'))) reused.add(m.id);
    // Per-layer progress bars would flood the log; keep the state changes.
    if (m.status && !m.progress) opts.log(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
  }).catch((e: Error) => {
    error ??= e.message;
  });
  if (error) throw new ImagePushError(`pushing ${reference} failed: ${error.trim()}`);
  if (!digest) throw new ImagePushError(`pushing ${reference} finished without a digest from the registry`);
  return { reference, digest, size, layersPushed: pushed.size, layersReused: reused.size };
}
