/** The sidecar reads its trust bundle naming the variable and the file when it cannot use it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readTrustBundle } from '../../../sidecar/mtls/start.ts';

void t.test('a directory, a missing file or a file without a certificate is named with its variable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => readTrustBundle(dir), { message: new RegExp(`^MESHTAP_TRUST_BUNDLE ${dir} cannot be read: EISDIR`) });
  t.throws(() => readTrustBundle(join(dir, 'missing.pem')), { message: /^MESHTAP_TRUST_BUNDLE .*missing\.pem cannot be read: ENOENT/ });
  writeFileSync(join(dir, 'hostname'), 'node-1\n');
  t.throws(() => readTrustBundle(join(dir, 'hostname')), { message: /^MESHTAP_TRUST_BUNDLE .*hostname holds no PEM certificate$/ });
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  writeFileSync(join(dir, 'ca.crt'), pem);
  t.equal(readTrustBundle(join(dir, 'ca.crt')), pem);
});
