import { render } from 'preact';
import { App } from './ui/App.js';
import './styles.css';

type Primed = { result: Promise<unknown>; done?: unknown };
const primed = (window as unknown as { __psPrimed?: Primed }).__psPrimed;

const start = () => render(<App />, document.getElementById('app')!);
// the list's first page is on its way (the inline script of index.html asked for it): wait a
// moment for it, so the first frame shows the rows instead of a frame without them and a
// second render (never long)
if (primed && primed.done === undefined) void Promise.race([primed.result.catch(() => undefined), new Promise((r) => setTimeout(r, 120))]).then(start);
else start();
