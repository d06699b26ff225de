#!/usr/bin/env node
/**
 * The pod's entry: `init`, `sidecar` and `wait-ready` only. `npm run build` compiles it into
 * `dist/meshtap-pod.js` (with the capture worker beside it), which is what the container image,
 * the lab and the bench run: no type stripping at start, and nothing loaded that the pod does
 * not use (the collector, the webhook, the controller and their packages).
 */
import { runCommandMain } from '../lib/command-main.ts';
import { POD_COMMANDS } from './pod-commands.ts';

runCommandMain(POD_COMMANDS, process.argv.slice(2));
