#!/usr/bin/env node
// The `kvlab` bin: loads the TypeScript CLI through tsx's ESM loader, so the
// CLI runs from a checkout without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./kvlab.ts');
process.exit(await main(process.argv.slice(2)));
