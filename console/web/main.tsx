import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SessionInfo } from '../api-types';
import { api } from './api';
import { Breadcrumbs, PageHeading, Shell } from './components/layout';
import { Link } from './components/link';
import { useTitle } from './hooks';
import { DataflowPage } from './pages/dataflow-page';
import { EditDataflow } from './pages/edit-dataflow';
import { ImportsList } from './pages/imports-list';
import { NewDataflow } from './pages/new-dataflow';
import { RunHistory } from './pages/run-history';
import { SchedulePage } from './pages/schedule-page';
import { matchRoute, navigate, usePath } from './router';

function NotFound() {
  useTitle('Not found');
  return (
    <>
      <Breadcrumbs items={[{ label: 'Not found' }]} />
      <PageHeading>Page not found</PageHeading>
      <p>
        There is no page at this address. <Link href="/imports">Go to the Imports list</Link>.
      </p>
    </>
  );
}

function App() {
  const path = usePath();
  const route = matchRoute(path);
  const [session, setSession] = useState<SessionInfo | null>(null);
  const first = useRef(true);

  useEffect(() => {
    api.get<SessionInfo>('/api/session').then(setSession, () => undefined);
  }, []);

  useEffect(() => {
    if (path === '/') navigate('/imports', { replace: true });
  }, [path]);

  // After a route change (not the first load), the focus goes to the new page's heading and the page to the top.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    window.scrollTo(0, 0);
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path]);

  let page;
  switch (route.page) {
    case 'list':
      page = <ImportsList />;
      break;
    case 'new':
      page = <NewDataflow />;
      break;
    case 'dataflow':
      page = <DataflowPage key={route.name} name={route.name} session={session} />;
      break;
    case 'history':
      page = <RunHistory key={route.name} name={route.name} />;
      break;
    case 'edit':
      page = <EditDataflow key={route.name} name={route.name} />;
      break;
    case 'schedule':
      page = <SchedulePage key={route.name} name={route.name} />;
      break;
    default:
      page = <NotFound />;
  }
  return <Shell session={session}>{page}</Shell>;
}

const root = document.getElementById('app');
if (root) render(<App />, root);
