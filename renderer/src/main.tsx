/**
 * Renderer entry: choose the LabApi (Electron bridge, HTTP client or ?fake),
 * build the store over it and mount the app. If no API can be reached (serve
 * mode opened without its token, say) the page says why instead of staying blank.
 */
import { errorMessage } from '@kvlab/core';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { resolveApi } from './api/index.ts';
import { Root } from './App.tsx';
import { createLabStore } from './store/index.ts';
import './styles.css';

const el = document.getElementById('root');
if (!el) throw new Error('index.html has no #root');
const root = createRoot(el);

resolveApi().then(
  (api) => {
    root.render(
      <StrictMode>
        <Root api={api} store={createLabStore(api)} />
      </StrictMode>,
    );
  },
  (e: unknown) => {
    root.render(
      <div className="fatal" role="alert" data-testid="fatal">
        <h1>KV Lab cannot reach its engine</h1>
        <p>{errorMessage(e)}</p>
        <p className="muted">In serve mode, open the URL `kvlab serve` printed (it carries the access token).</p>
      </div>,
    );
  },
);
