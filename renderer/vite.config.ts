/**
 * Vite build of the renderer: `npm run build:renderer` → dist/renderer, which
 * serve mode's static server and the Electron window both load.
 *
 * `base: './'` makes every asset URL relative, so the same build works from
 * file:// (Electron) and from any path serve mode mounts it at. Nothing is
 * fetched from a CDN: the bundle is self-contained so the strict CSP
 * (script-src 'self') holds and the app runs offline.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    // Source maps stay out of the shipped bundle; the charts and core make one ~700 kB chunk, which is fine for a local app.
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: { host: '127.0.0.1' },
});
