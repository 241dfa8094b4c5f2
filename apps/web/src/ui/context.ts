/** What every screen needs: the API client bound to the token, and who is signed in. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from '../lib/api.js';
import type { SessionInfo } from '../lib/types.js';

export interface AppCtx {
  api: Api;
  session: SessionInfo;
  /** the name others see next to your cursor */
  displayName: string;
}

export const AppContext = createContext<AppCtx | undefined>(undefined);

export function useApp(): AppCtx {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside a signed-in app');
  return ctx;
}
