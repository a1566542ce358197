#!/usr/bin/env node
// The bitscale CLI. Sources are TypeScript run through tsx, so no build step stands between edit and use.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
