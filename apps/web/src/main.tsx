import { render } from 'preact';
import { App } from './ui/App.js';
import './styles.css';

type Primed = { result: Promise<unknown>; done?: unknown };
const w = window as unknown as { __psAppStarted?: boolean; __psPrimed?: Primed };
// public/prime.js, when it arrives after this point, leaves the list's first request to the app
w.__psAppStarted = true;

const start = () => render(<App />, document.getElementById('app')!);
// the list's first page is on its way (public/prime.js): wait a moment for it, so the first
// frame shows the rows instead of a frame without them and a second render (never long)
const primed = w.__psPrimed;
if (primed && primed.done === undefined) void Promise.race([primed.result.catch(() => undefined), new Promise((r) => setTimeout(r, 120))]).then(start);
else start();
