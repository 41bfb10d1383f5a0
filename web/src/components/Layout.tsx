/** The frame around every signed-in page: navigation, the user and log-out. */
import type { ComponentChildren } from 'preact';
import { logout, session } from '../session';
import { paths, type Route } from '../router';

const NAV: { label: string; href: string; pages: Route['page'][] }[] = [
  { label: 'Dashboard', href: paths.dashboard(), pages: ['dashboard'] },
  { label: 'Jobs', href: paths.jobs(), pages: ['jobs', 'job', 'job-edit', 'build'] },
  { label: 'Deployments', href: paths.deployments(), pages: ['deployments'] },
  { label: 'Agents', href: paths.agents(), pages: ['agents'] },
  { label: 'Registries', href: paths.registries(), pages: ['registries'] },
  { label: 'Plugins', href: paths.plugins(), pages: ['plugins'] },
  { label: 'Log search', href: paths.search(), pages: ['search'] },
  { label: 'Teams', href: paths.teams(), pages: ['teams'] },
];

export function Layout({ route, children }: { route: Route; children: ComponentChildren }) {
  const me = session()?.me;
  return (
    <div class="layout">
      <header class="topbar">
        <a class="brand" href="/">Slipway</a>
        <nav aria-label="Main">
          {NAV.map((n) => (
            <a href={n.href} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <span class="user" title={me?.teams.map((t) => `${t.name} (${t.role})`).join(', ')}>
          {me?.username}
          {me?.isAdmin ? ' (admin)' : ''}
        </span>
        <button type="button" class="link" onClick={() => logout()}>
          Log out
        </button>
      </header>
      <main>{children}</main>
    </div>
  );
}
