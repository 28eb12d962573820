// The dashboard: layout, navigation, the API-key prompt, and the client routes under /ui/.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { apiKey, authMode, initAuth, needKey, refreshRole, role, setApiKey } from './api.ts';
import { JobsPage } from './pages/Jobs.tsx';
import { JobPage } from './pages/Job.tsx';
import { ComparePage } from './pages/Compare.tsx';
import { DatasetsPage, DatasetPage } from './pages/Datasets.tsx';
import { ModelsPage, ModelPage } from './pages/Models.tsx';
import { PlaygroundPage } from './pages/Playground.tsx';
import './styles.css';

const NAV = [
  ['/ui/', 'Jobs'],
  ['/ui/compare', 'Compare'],
  ['/ui/datasets', 'Datasets'],
  ['/ui/models', 'Models'],
  ['/ui/playground', 'Playground'],
] as const;

function Nav() {
  const { path } = useLocation();
  const current = (href: string) => (href === '/ui/' ? path === '/ui/' || path === '/ui' || path.startsWith('/ui/jobs') : path.startsWith(href));
  return (
    <header class="top">
      <a class="brand" href="/ui/">
        mnist-jobs
      </a>
      <nav aria-label="Main">
        <ul>
          {NAV.map(([href, label]) => (
            <li key={href}>
              <a href={href} aria-current={current(href) ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <AuthStatus />
    </header>
  );
}

function AuthStatus() {
  if (authMode.value === 'unknown') return <span class="auth">…</span>;
  if (authMode.value === 'off') return <span class="auth" title="The API runs without keys">auth off</span>;
  return (
    <span class="auth">
      {role.value ? `key: ${role.value}` : 'no key'}{' '}
      <button class="link" onClick={() => (needKey.value = true)}>
        {apiKey.value ? 'change key' : 'enter key'}
      </button>
    </span>
  );
}

function KeyDialog() {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (!needKey.value || authMode.value !== 'on') return null;
  const submit = async (e: Event) => {
    e.preventDefault();
    setApiKey(value.trim() || null);
    await refreshRole();
    if (role.value === null) setError('This key was refused (UNAUTHENTICATED).');
    else location.reload();
  };
  return (
    <div class="overlay">
      <div role="dialog" aria-modal="true" aria-labelledby="key-title" class="dialog-wrap">
      <form class="card dialog" onSubmit={submit}>
        <h2 id="key-title">API key</h2>
        <p>This API needs a key. It is kept in this tab's session storage only.</p>
        <label>
          Key
          <input type="password" autoFocus autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="row">
          <button type="submit">Use key</button>
          {role.value && (
            <button type="button" class="secondary" onClick={() => (needKey.value = false)}>
              Cancel
            </button>
          )}
        </div>
      </form>
      </div>
    </div>
  );
}

function NotFound() {
  return (
    <main id="main" class="page">
      <h1>Not found</h1>
      <p>
        No page here. <a href="/ui/">Back to the jobs</a>.
      </p>
    </main>
  );
}

function App() {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    void initAuth().finally(() => setReady(true));
  }, []);
  return (
    <LocationProvider>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Nav />
      <KeyDialog />
      {/* With keys on, the pages wait for an accepted key: no request goes out to be refused. */}
      {ready && (authMode.value === 'off' || role.value !== null) && (
        <Router>
          <Route path="/ui/" component={JobsPage} />
          <Route path="/ui/jobs/:id" component={JobPage} />
          <Route path="/ui/compare" component={ComparePage} />
          <Route path="/ui/datasets" component={DatasetsPage} />
          <Route path="/ui/datasets/:id" component={DatasetPage} />
          <Route path="/ui/models" component={ModelsPage} />
          <Route path="/ui/models/:id" component={ModelPage} />
          <Route path="/ui/playground" component={PlaygroundPage} />
          <Route default component={NotFound} />
        </Router>
      )}
    </LocationProvider>
  );
}

render(<App />, document.getElementById('app')!);
