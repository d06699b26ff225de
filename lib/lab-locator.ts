/**
 * Where a running lab describes itself, for clients outside `lab/` (`meshtap tap`, `meshtap
 * mcp`) that need the lab's collector URL and API token without importing the lab.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const LAB_STATE_DIR = '/run/meshtap-lab';
export const LAB_STATE_FILE = 'state.json';

export interface LabCollector {
  url: string;
  token?: string;
}

/** The running lab's collector, or undefined when no lab is up (or its state is unreadable). */
export function findLabCollector(stateDir: string = LAB_STATE_DIR): LabCollector | undefined {
  try {
    const state = JSON.parse(readFileSync(join(stateDir, LAB_STATE_FILE), 'utf8')) as { collector?: { url?: unknown; token?: unknown } };
    const c = state.collector;
    if (!c || typeof c.url !== 'string') return undefined;
    return { url: c.url, ...(typeof c.token === 'string' ? { token: c.token } : {}) };
  } catch {
    return undefined;
  }
}
