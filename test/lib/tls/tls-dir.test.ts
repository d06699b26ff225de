import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile, rm, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { CA_ERR_BAD_BUNDLE, CA_ERR_BAD_PEM, CA_ERR_EXISTS, CA_ERR_KEY_MISMATCH, CA_ERR_READ } from '../../../lib/tls/errors.ts';
import { createRootCa } from '../../../certs/root-ca.ts';
import { readTlsDir, writeTlsDir } from '../../../lib/tls/tls-dir.ts';
import { issueWebhookCert } from '../../../certs/webhook-cert.ts';
import { errorCode, openssl, tempDir } from '../../certs/helpers.ts';

const ca = createRootCa();
const webhook = issueWebhookCert(ca);

void t.test('writes a TLS Secret layout with a private key only its owner reads', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'deep', 'webhook');
  const paths = await writeTlsDir(dir, webhook);
  t.same(paths, { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ca: join(dir, 'ca.crt') });
  t.same((await readdir(dir)).sort(), ['ca.crt', 'tls.crt', 'tls.key'], 'no temporary files left');
  t.equal((await stat(paths.key)).mode & 0o777, 0o600);
  t.equal((await stat(paths.cert)).mode & 0o777, 0o644);
  t.equal((await stat(dir)).mode & 0o777, 0o700);
  t.equal(await readFile(paths.cert, 'utf8'), webhook.cert);
  t.equal(await readFile(paths.key, 'utf8'), webhook.key);
  t.equal(await readFile(paths.ca, 'utf8'), ca.cert);
  t.same(await readTlsDir(dir), webhook, 'reads back what it wrote');
  const v = await openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', paths.ca, paths.cert]);
  t.equal(v.code, 0, v.stdout + v.stderr);
  const k = await openssl(['pkey', '-noout', '-in', paths.key]);
  t.equal(k.code, 0, 'openssl reads the key');
});

void t.test('never replaces a key unless told to', async (t) => {
  const dir = await tempDir(t);
  await writeTlsDir(dir, ca);
  const err = await errorCode(() => writeTlsDir(dir, webhook));
  t.equal(err.code, CA_ERR_EXISTS);
  t.match(err.message, new RegExp(`${join(dir, 'tls.key').replace(/[.]/g, '\\.')} already exists`));
  t.equal(await readFile(join(dir, 'tls.key'), 'utf8'), ca.key, 'key untouched');
  t.equal(await readFile(join(dir, 'tls.crt'), 'utf8'), ca.cert, 'certificate untouched');
  await writeTlsDir(dir, webhook, { overwrite: true });
  t.equal(await readFile(join(dir, 'tls.key'), 'utf8'), webhook.key, 'replaced when asked');
  t.equal((await stat(join(dir, 'tls.key'))).mode & 0o777, 0o600, 'still 0600 after replacing');
  t.same((await readdir(dir)).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
});

void t.test('reading names the file at fault', async (t) => {
  const dir = await tempDir(t);
  await writeTlsDir(dir, webhook);
  const restore = () => writeTlsDir(dir, webhook, { overwrite: true });

  await rm(join(dir, 'ca.crt'));
  let err = await errorCode(() => readTlsDir(dir));
  t.equal(err.code, CA_ERR_READ);
  t.match(err.message, `${join(dir, 'ca.crt')}: file is missing`);
  await restore();

  // Several files missing: always the certificate first, however the reads finish.
  for (let i = 0; i < 20; i++) {
    const empty = join(dir, `empty-${i}`);
    err = await errorCode(() => readTlsDir(empty));
    t.match(err.message, `${join(empty, 'tls.crt')}: file is missing`, `attempt ${i}`);
  }
  await rm(join(dir, 'tls.crt'));
  await rm(join(dir, 'ca.crt'));
  err = await errorCode(() => readTlsDir(dir));
  t.match(err.message, `${join(dir, 'tls.crt')}: file is missing`, 'the certificate before the CA');
  await restore();

  await writeFile(join(dir, 'tls.key'), 'not a key');
  err = await errorCode(() => readTlsDir(dir));
  t.equal(err.code, CA_ERR_BAD_PEM);
  t.match(err.message, join(dir, 'tls.key'));
  await restore();

  await writeFile(join(dir, 'tls.crt'), 'nothing');
  err = await errorCode(() => readTlsDir(dir));
  t.equal(err.code, CA_ERR_BAD_PEM);
  t.match(err.message, join(dir, 'tls.crt'));
  await restore();

  await writeFile(join(dir, 'tls.key'), ca.key);
  err = await errorCode(() => readTlsDir(dir));
  t.equal(err.code, CA_ERR_KEY_MISMATCH);
  t.match(err.message, join(dir, 'tls.key'));
  await restore();

  await writeFile(join(dir, 'ca.crt'), createRootCa().cert);
  err = await errorCode(() => readTlsDir(dir));
  t.equal(err.code, CA_ERR_BAD_BUNDLE);
  t.match(err.message, /was not issued by any CA in .*ca\.crt/);
  await restore();

  t.equal(new X509Certificate((await readTlsDir(dir)).cert).serialNumber, new X509Certificate(webhook.cert).serialNumber);
  err = await errorCode(() => readTlsDir(join(dir, 'nope')));
  t.equal(err.code, CA_ERR_READ);
});
