import { render } from 'preact';
import { App } from './ui/App.js';
import './styles.css';

// public/prime.js, when it arrives after this point, leaves the list's first request to the app
(window as unknown as { __psAppStarted?: boolean }).__psAppStarted = true;
render(<App />, document.getElementById('app')!);
