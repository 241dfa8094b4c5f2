import { render } from 'preact';
import { listQuery, primeGet } from './lib/api.js';
import { firstPageQuery } from './lib/list.js';
import { parseRoute } from './lib/router.js';
import { storedSession, storedToken } from './lib/session.js';
import { App } from './ui/App.js';
import './styles.css';

// a reload of the list: ask for its first page now, while the app renders
const token = storedToken();
if (token !== undefined && storedSession() !== undefined && parseRoute(location.hash).name === 'profiles') primeGet(token, '/api/profiles', listQuery(firstPageQuery()));

render(<App />, document.getElementById('app')!);
