/** A store file filled with 1000 records of ~1.2 KB bodies (ids s-0 … s-999), for size-bound tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../../../collector/store/sqlite-store.ts';
import { callRecord } from '../helpers.ts';

/** The file's path and the bytes its live pages use; the directory goes at `teardown`. */
export async function filledStoreFile(teardown: (fn: () => void) => void): Promise<{ path: string; used: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-store-'));
  teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'calls.db');
  const body = (i: number): string => JSON.stringify({ i, pad: `${i}-`.repeat(600) });
  const big = createSqliteStore({ path, retentionIntervalMs: 0 });
  for (let b = 0; b < 10; b++) await big.add(Array.from({ length: 100 }, (_, k) => callRecord({ id: `s-${b * 100 + k}`, requestBody: body(b * 100 + k) })));
  const used = big.usedBytes();
  await big.close();
  return { path, used };
}
