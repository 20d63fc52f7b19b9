#!/usr/bin/env node
// The chronicle-server command. The server is written in TypeScript and runs
// without a build step: tsx's loader compiles it on the fly (Node >= 20.6).
import { register } from 'tsx/esm/api';

register();
await import('../src/server/cli.ts');
