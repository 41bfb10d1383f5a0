/**
 * A small history-API router: a path maps to a route, links navigate without reloading (the page keeps the
 * in-memory session), and the master answers every UI path with index.html so a reload lands on the route.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'dashboard' }
  | { page: 'jobs' }
  | { page: 'job'; name: string }
  | { page: 'job-edit'; name?: string }
  | { page: 'build'; id: number }
  | { page: 'agents' }
  | { page: 'deployments' }
  | { page: 'registries' }
  | { page: 'plugins' }
  | { page: 'tokens' }
  | { page: 'search' }
  | { page: 'app-logs' }
  | { page: 'teams' }
  | { page: 'not-found'; path: string };

export function parseRoute(path: string): Route {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'dashboard' };
  if (parts[0] === 'jobs' && parts.length === 1) return { page: 'jobs' };
  if (parts[0] === 'jobs' && parts.length === 2 && parts[1] === 'new') return { page: 'job-edit' };
  if (parts[0] === 'jobs' && parts.length === 2) return { page: 'job', name: parts[1] };
  if (parts[0] === 'jobs' && parts.length === 3 && parts[2] === 'edit') return { page: 'job-edit', name: parts[1] };
  if (parts[0] === 'builds' && parts.length === 2 && /^[1-9]\d{0,15}$/.test(parts[1])) return { page: 'build', id: Number(parts[1]) };
  if (parts[0] === 'agents' && parts.length === 1) return { page: 'agents' };
  if (parts[0] === 'deployments' && parts.length === 1) return { page: 'deployments' };
  if (parts[0] === 'registries' && parts.length === 1) return { page: 'registries' };
  if (parts[0] === 'plugins' && parts.length === 1) return { page: 'plugins' };
  if (parts[0] === 'tokens' && parts.length === 1) return { page: 'tokens' };
  if (parts[0] === 'search' && parts.length === 1) return { page: 'search' };
  if (parts[0] === 'app-logs' && parts.length === 1) return { page: 'app-logs' };
  if (parts[0] === 'teams' && parts.length === 1) return { page: 'teams' };
  return { page: 'not-found', path };
}

export const paths = {
  dashboard: () => '/',
  jobs: () => '/jobs',
  job: (name: string) => `/jobs/${encodeURIComponent(name)}`,
  newJob: () => '/jobs/new',
  editJob: (name: string) => `/jobs/${encodeURIComponent(name)}/edit`,
  build: (id: number) => `/builds/${id}`,
  agents: () => '/agents',
  deployments: () => '/deployments',
  registries: () => '/registries',
  plugins: () => '/plugins',
  tokens: () => '/tokens',
  search: () => '/search',
  appLogs: () => '/app-logs',
  teams: () => '/teams',
};

/**
 * A job's reference that no other team's job of the same name can make ambiguous: `team/name`. Pages that
 * know the job's team (a build, the job itself, the editor after saving) link and call the API with it.
 */
export function jobRef(job: { name: string; team: string }): string {
  return `${job.team}/${job.name}`;
}

/**
 * The page of a job in a list: by name, or by `team/name` when the list holds jobs of that name in several
 * teams (names are unique per team only; the master refuses a bare name that is ambiguous for the caller).
 */
export function jobPath(job: { name: string; team: string }, all: { name: string }[]): string {
  return paths.job(all.filter((j) => j.name === job.name).length > 1 ? `${job.team}/${job.name}` : job.name);
}

const listeners = new Set<() => void>();

export function navigate(to: string): void {
  if (to === window.location.pathname + window.location.search + window.location.hash) return;
  window.history.pushState(null, '', to);
  for (const fn of listeners) fn();
  window.scrollTo(0, 0);
}

export function useRoute(): Route {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return parseRoute(path);
}

/** Left clicks on in-app links navigate in place; modified clicks (new tab) keep the browser's default. */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.origin !== window.location.origin || a.hasAttribute('download')) return;
  if (a.pathname.startsWith('/api/') || (a.pathname === window.location.pathname && a.hash)) return;
  e.preventDefault();
  navigate(a.pathname + a.search + a.hash);
}
