#!/usr/bin/env node
// `npm start`: the desktop app where Electron can run, serve mode otherwise.
// The logic is TypeScript (electron/shell/launch.ts), loaded through tsx's ESM
// loader like the kvlab CLI, so it runs from a checkout with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../electron/shell/launch.ts');
process.exit(await main(process.argv.slice(2)));
