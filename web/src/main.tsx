/** The web UI's entry: the login page until there is a session, then the page of the current route. */
import { render } from 'preact';
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Layout } from './components/Layout';
import { Agents } from './pages/Agents';
import { Build } from './pages/Build';
import { Dashboard } from './pages/Dashboard';
import { Deployments } from './pages/Deployments';
import { Job } from './pages/Job';
import { Jobs } from './pages/Jobs';
import { Login } from './pages/Login';
import { Plugins } from './pages/Plugins';
import { Registries } from './pages/Registries';
import { Search } from './pages/Search';
import { Teams } from './pages/Teams';
import { onLinkClick, useRoute, type Route } from './router';
import { onSessionChange, session } from './session';
import './styles.css';

/** The job editor brings the YAML parser and the job schema: loaded the first time it is opened. */
let editor: Promise<ComponentType<{ name?: string }>> | undefined;
function LazyJobEditor({ name }: { name?: string }) {
  const [Editor, setEditor] = useState<ComponentType<{ name?: string }> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    editor ??= import('./pages/JobEditor').then((m) => m.default);
    editor.then((c) => setEditor(() => c), (err: Error) => setError(err.message));
  }, []);
  if (error) return <p class="error">{error}</p>;
  return Editor ? <Editor name={name} /> : <p class="muted">Loading the editor…</p>;
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'dashboard':
      return <Dashboard />;
    case 'jobs':
      return <Jobs />;
    case 'job':
      return <Job key={route.name} name={route.name} />;
    case 'job-edit':
      return <LazyJobEditor key={route.name ?? ''} name={route.name} />;
    case 'build':
      return <Build key={route.id} id={route.id} />;
    case 'agents':
      return <Agents />;
    case 'deployments':
      return <Deployments />;
    case 'registries':
      return <Registries />;
    case 'plugins':
      return <Plugins />;
    case 'search':
      return <Search />;
    case 'teams':
      return <Teams />;
    case 'not-found':
      return <p class="error">No page at {route.path}.</p>;
    default: {
      const never: never = route;
      return never;
    }
  }
}

function App() {
  const [, setTick] = useState(0);
  const route = useRoute();
  useEffect(() => onSessionChange(() => setTick((n) => n + 1)), []);
  if (!session()) return <Login />;
  return (
    <Layout route={route}>
      <Page route={route} />
    </Layout>
  );
}

document.addEventListener('click', onLinkClick);
render(<App />, document.getElementById('app') as HTMLElement);
