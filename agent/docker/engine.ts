/**
 * The agent's handle on a Docker engine: one dockerode client per socket, the capability check the agent runs
 * at start (the engine answers and speaks API >= MIN_API_VERSION), and the progress-stream reader every image
 * operation shares. Docker access is root access on the host: only the agent holds this client; steps never
 * see the socket.
 */
import Docker from 'dockerode';

/** Docker Engine API version the executors are written against (Docker 20.10, Debian 12's docker.io). */
export const MIN_API_VERSION = '1.41';

export interface DockerEngineOptions {
  /** Unix socket of the engine (default /var/run/docker.sock). */
  socketPath?: string;
}

export interface EngineInfo {
  apiVersion: string;
  version: string;
  /** True when the engine is a Swarm manager (deploys then create Swarm services). */
  swarmManager: boolean;
}

export function dockerClient(options: DockerEngineOptions = {}): Docker {
  return new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock', version: `v${MIN_API_VERSION}` });
}

/**
 * Checks that the engine answers and is recent enough; throws a message naming the socket and what is wrong.
 */
export async function checkEngine(docker: Docker, socketPath = '/var/run/docker.sock'): Promise<EngineInfo> {
  let v: Docker.DockerVersion;
  let info: { Swarm?: { ControlAvailable?: boolean } };
  try {
    v = await docker.version();
    info = (await docker.info()) as typeof info;
  } catch (e) {
    throw new Error(`the Docker engine at ${socketPath} does not answer: ${(e as Error).message}`);
  }
  if (compareApiVersions(v.ApiVersion, MIN_API_VERSION) < 0) {
    throw new Error(`the Docker engine at ${socketPath} speaks API ${v.ApiVersion}; Slipway needs ${MIN_API_VERSION} or newer`);
  }
  return { apiVersion: v.ApiVersion, version: v.Version, swarmManager: info.Swarm?.ControlAvailable === true };
}

export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** One JSON message of a build, push, pull or import progress stream. */
export interface ProgressMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: Record<string, unknown>;
}

/**
 * Reads a progress stream to its end, calling onMessage for each message in order. Resolves with every
 * message; rejects only when the stream itself fails (an error *message* is the caller's to interpret, since
 * a build error needs the step it happened in).
 */
export function followProgress(docker: Docker, stream: NodeJS.ReadableStream, onMessage: (m: ProgressMessage) => void): Promise<ProgressMessage[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, all: ProgressMessage[]) => (err ? reject(err) : resolve(all)),
      (m: ProgressMessage) => onMessage(m),
    );
  });
}

/** The error text of a progress message, or undefined. */
export function progressError(m: ProgressMessage): string | undefined {
  if (m.errorDetail?.message) return m.errorDetail.message;
  return m.error || undefined;
}
