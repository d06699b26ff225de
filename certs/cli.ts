import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CLI_ERR_USAGE, flagValue, parseCommandArgs, runSubcommands, usageProblems, type CommandIO, type Subcommand } from '../lib/cli.ts';
import { isMeshtapError, MeshtapError } from '../lib/errors.ts';
import type { CertBundle } from '../lib/tls/cert-bundle.ts';
import { describeCertificates, summarizeCertificate } from './describe-cert.ts';
import { CA_ERR_CA_EXPIRED } from './errors.ts';
import { CA_ERR_READ, tlsError } from '../lib/tls/errors.ts';
import { createRootCa } from './root-ca.ts';
import { checkDnsName, ipAddressBytes } from './san-names.ts';
import { loadSigningCa, type SigningCa } from './signing-ca.ts';
import { checkTrustDomain, DEFAULT_TRUST_DOMAIN } from './spiffe-id.ts';
import { CA_CERT_FILE, readTlsDir, TLS_CERT_FILE, TLS_KEY_FILE, writeTlsDir } from '../lib/tls/tls-dir.ts';
import { issueWebhookCert } from './webhook-cert.ts';

const USAGE = `usage: meshtap certs <command> [options]

commands:
  init --dir DIR [--dns NAME,...] [--ip IP,...] [--trust-domain TD] [--service NAME]
       [--namespace NS] [--force]
        create the CA and the webhook's serving certificate
  inspect FILE
        describe the certificates in a PEM file

Run "meshtap certs <command> --help" for a command's options.
`;

const INIT_USAGE = `usage: meshtap certs init --dir DIR [--dns NAME,...] [--ip IP,...] [--trust-domain TD]
                          [--service NAME] [--namespace NS] [--force]

Writes DIR/ca/{tls.crt,tls.key,ca.crt} (the CA) and DIR/webhook/{tls.crt,tls.key,ca.crt}
(the webhook's serving certificate and the caBundle for its configuration), in the
layout of a Kubernetes TLS Secret. An existing CA in DIR/ca is reused and only the
webhook certificate is issued again; --force creates a new CA and moves the old one
aside to DIR/ca.replaced-<time>.

options:
  --dir DIR            output directory (required)
  --dns NAME,...       extra DNS names for the webhook certificate (repeatable)
  --ip IP,...          extra IP addresses for the webhook certificate (repeatable)
  --trust-domain TD    SPIFFE trust domain recorded in a new CA (default ${DEFAULT_TRUST_DOMAIN})
  --service NAME       the webhook's Service (default meshtap-controller)
  --namespace NS       the webhook's namespace (default meshtap-system)
  --force              replace an existing CA
  -h, --help           show this help
`;

const INSPECT_USAGE = `usage: meshtap certs inspect FILE

Prints subject, SANs, validity, key and SHA-256 fingerprint of each certificate in FILE.

options:
  -h, --help  show this help
`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** What `meshtap certs` runs. */
const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  init: { usage: INIT_USAGE, run: runInit },
  inspect: { usage: INSPECT_USAGE, run: runInspect },
};

export function run(argv: string[], io: CommandIO): Promise<number> {
  return runSubcommands('certs', USAGE, SUBCOMMANDS, argv, io);
}

function usageError(message: string, cause?: unknown): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, message, cause === undefined ? undefined : { cause });
}

/** Flag values that are lists: repeated flags and comma-separated values both add entries. */
/** A repeatable, comma-separated flag's items; an empty one (`--dns ''`, `a,,b`) is a usage error, not skipped. */
function listFlag(flag: string, values: string[] | undefined): string[] {
  return (values ?? []).flatMap((v) =>
    v.split(',').map((item) => {
      const trimmed = item.trim();
      if (trimmed === '') throw usageError(`${flag}: an empty item in ${JSON.stringify(v)} (give names separated by commas)`);
      return trimmed;
    }),
  );
}

function checkFlag<T>(flag: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw usageError(`${flag}: ${isMeshtapError(err) ? err.message : String(err)}`, err);
  }
}

async function runInit(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    dir: { type: 'string' },
    dns: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    'trust-domain': { type: 'string' },
    service: { type: 'string' },
    namespace: { type: 'string' },
    force: { type: 'boolean', default: false },
  }, true);
  // Every bad flag is named at once, in one usage error, as the other commands do.
  const { problems, check: collect } = usageProblems();
  if (positionals.length > 0) problems.push(`unexpected argument "${positionals[0]}"`);
  // Given but empty is "needs a value", as for every flag; only an absent --dir is "required".
  const dirFlag = collect(() => flagValue('--dir', values.dir, 'the output directory'));
  if (dirFlag === undefined && values.dir === undefined) problems.push('--dir is required');
  const dnsNames = (collect(() => listFlag('--dns', values.dns)) ?? []).flatMap((n) => collect(() => checkFlag('--dns', () => checkDnsName(n))) ?? []);
  const ips = collect(() => listFlag('--ip', values.ip)) ?? [];
  for (const ip of ips) collect(() => checkFlag('--ip', () => ipAddressBytes(ip)));
  const trustDomainFlag = collect(() => flagValue('--trust-domain', values['trust-domain'], 'a SPIFFE trust domain'));
  const trustDomain = trustDomainFlag === undefined ? undefined : collect(() => checkFlag('--trust-domain', () => checkTrustDomain(trustDomainFlag)));
  for (const flag of ['service', 'namespace'] as const) {
    const v = collect(() => flagValue(`--${flag}`, values[flag], 'a Kubernetes name'));
    if (v !== undefined && (!DNS_LABEL.test(v) || v.length > 63)) {
      problems.push(`--${flag}: "${v}" is not a Kubernetes name (lower-case letters, digits and "-", at most 63 characters)`);
    }
  }
  if (problems.length > 0 || dirFlag === undefined) throw usageError(problems.join('; '));

  const now = new Date();
  const dir = resolve(dirFlag);
  // An existing path that is not a directory would fail later as "cannot read DIR/ca".
  const kind = await stat(dir).then(
    (st) => (st.isDirectory() ? 'directory' : 'other'),
    () => 'absent',
  );
  if (kind === 'other') throw usageError(`--dir ${dir} exists and is not a directory`);
  const caDir = join(dir, 'ca');
  const webhookDir = join(dir, 'webhook');
  const out: string[] = [];

  let signer: SigningCa;
  const existing = await existingCaFiles(caDir);
  if (existing.length > 0 && !values.force) {
    let bundle: CertBundle;
    try {
      bundle = await readTlsDir(caDir);
      signer = loadSigningCa(bundle);
    } catch (err) {
      throw new MeshtapError(
        isMeshtapError(err) ? err.code : CA_ERR_READ,
        `${caDir} holds an unusable CA (${(err as Error).message}); repair it, or pass --force to create a new CA (the current files are moved aside, not deleted)`,
        { cause: err },
      );
    }
    if (trustDomain !== undefined && signer.trustDomain !== undefined && signer.trustDomain !== trustDomain) {
      throw usageError(
        `the CA in ${caDir} is for trust domain "${signer.trustDomain}", not "${trustDomain}"; pass --force to create a new CA`,
      );
    }
    out.push(`CA: reused ${caDir}`);
  } else {
    if (existing.length > 0) {
      const aside = `${caDir}.replaced-${now.toISOString().replace(/[:.]/g, '-')}`;
      await rename(caDir, aside);
      out.push(`CA: previous CA moved to ${aside}`);
      out.push('    workloads and webhook configurations that trust it must be given the new ca.crt');
    }
    const bundle = createRootCa({ trustDomain: trustDomain ?? DEFAULT_TRUST_DOMAIN, now });
    await writeTlsDir(caDir, bundle, { overwrite: false });
    signer = loadSigningCa(bundle);
    out.push(`CA: created ${caDir}`);
  }
  const caSummary = summarizeCertificate(signer.certPem);
  out.push(
    `    ${join(caDir, TLS_CERT_FILE)}, ${join(caDir, TLS_KEY_FILE)} (0600), ${join(caDir, CA_CERT_FILE)}`,
    `    subject ${caSummary.subject}, trust domain ${signer.trustDomain ?? '(not recorded)'}`,
    `    expires ${caSummary.notAfter.toISOString()}, sha256 ${caSummary.sha256Fingerprint}`,
  );

  let webhook: CertBundle;
  try {
    webhook = issueWebhookCert(signer, {
      service: values.service,
      namespace: values.namespace,
      extraDnsNames: dnsNames,
      extraIps: ips,
      now,
    });
  } catch (err) {
    if (!isMeshtapError(err, CA_ERR_CA_EXPIRED)) throw err;
    throw new MeshtapError(err.code, `${err.message}; pass --force to create a new CA`, { cause: err });
  }
  const paths = await writeTlsDir(webhookDir, webhook, { overwrite: true });
  const whSummary = summarizeCertificate(webhook.cert);
  out.push(
    `webhook serving certificate: issued ${webhookDir}`,
    `    ${paths.cert}, ${paths.key} (0600), ${paths.ca}`,
    `    SANs ${whSummary.subjectAltNames.join(', ')}`,
    `    expires ${whSummary.notAfter.toISOString()}`,
    `caBundle for the webhook configuration: ${paths.ca}`,
  );
  io.stdout.write(out.join('\n') + '\n');
  return 0;
}

async function existingCaFiles(caDir: string): Promise<string[]> {
  try {
    const names = await readdir(caDir);
    return names.filter((n) => n === TLS_CERT_FILE || n === TLS_KEY_FILE || n === CA_CERT_FILE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw tlsError(CA_ERR_READ, `cannot read ${caDir}: ${(err as Error).message}`, err);
  }
}

async function runInspect(argv: string[], io: CommandIO): Promise<number> {
  const { positionals } = parseCommandArgs(argv, {}, true);
  if (positionals.length !== 1) throw usageError('exactly one FILE is required');
  const file = flagValue('FILE', positionals[0], 'a PEM file') as string;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw tlsError(CA_ERR_READ, `cannot read ${file}: ${(err as Error).message}`, err);
  }
  io.stdout.write(describeCertificates(text, new Date(), file) + '\n');
  return 0;
}
