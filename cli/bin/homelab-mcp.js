#!/usr/bin/env node
// The sources are TypeScript; tsx compiles them on the fly so a fresh clone
// runs with `npm ci` alone, without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
