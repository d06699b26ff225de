import t from 'tap';
import { maskOptionsFromEnv, resolveMaskPolicyFromEnv } from '../../../sidecar/mask/env-policy.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { DEFAULT_SCAN_BUDGET_BYTES, resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resolveSidecarConfig } from '../../../sidecar/config.ts';
import type { HttpMessage } from '../../../record/record.ts';

const POD = { POD_NAME: 'web-1', POD_NAMESPACE: 'shop', POD_IP: '10.244.0.7' };
const json = (body: string, headers: Record<string, string> = {}): HttpMessage => ({
  headers,
  body: Buffer.from(body),
  body_size: body.length,
  truncated: false,
  content_type: 'application/json',
});
const text = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString();

void t.test('keys, headers and patterns added through the environment are masked', async (t) => {
  const policy = resolveMaskPolicyFromEnv({
    MESHTAP_MASK_KEYS: 'pin, tenant_code',
    MESHTAP_MASK_HEADERS: 'X-Internal',
    MESHTAP_MASK_PATTERNS: 'AKIA[0-9A-Z]{16}\nliteral:hunter2-literal\n\nre2:sk_live_[A-Za-z0-9]{8,}',
  });
  const r = maskRecord(
    {
      path: '/q?tenantCode=T-77&pin=1234&q=ok',
      request: json(
        '{"PIN":"9876","tenantCode":"T-42","note":"key AKIAABCDEFGHIJKLMNOP and hunter2-literal and sk_live_abcdefgh1234","q":"ok"}',
        { 'x-internal': 'internal-secret', 'x-tenant-code': 'T-9' },
      ),
    },
    policy,
  );
  t.equal(r.path, '/q?tenantCode=****&pin=****&q=ok');
  t.equal(text(r.request), '{"PIN":"****","tenantCode":"****","note":"key **** and **** and ****","q":"ok"}');
  t.equal(r.request?.headers['x-internal'], '****');
  t.equal(r.request?.headers['x-tenant-code'], '****', 'added keys apply to header names too');
  t.ok(r.sensitive.includes('pattern'));
});

void t.test('without variables the defaults hold; the scan budget follows a raised body limit', async (t) => {
  const { options, problems } = maskOptionsFromEnv({});
  t.same(problems, []);
  t.same(options, { scanBudgetBytes: DEFAULT_SCAN_BUDGET_BYTES });
  t.equal(maskOptionsFromEnv({}, 1024 * 1024).options.scanBudgetBytes, 2 * 1024 * 1024);
  t.equal(maskOptionsFromEnv({ MESHTAP_MASK_SCAN_BYTES: '1000' }, 1024 * 1024).options.scanBudgetBytes, 1000);
  t.equal(maskOptionsFromEnv({ MESHTAP_MASK_UNSCANNED: 'raw' }).options.unscannedBodies, 'raw');
});

void t.test('bad values fail with the variable, the value and what is expected', async (t) => {
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_KEYS: 'ok,has space' }), {
    code: 'SC_ERR_MASK_POLICY',
    message: /MESHTAP_MASK_KEYS="ok,has space": "has space" is not a key name/,
  });
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_PATTERNS: 'ok[0-9]+\n(unclosed' }), { message: /MESHTAP_MASK_PATTERNS=.*line 2: "\(unclosed" is not an RE2 expression/s });
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_PATTERNS: '(a+)+\\1' }), { message: /MESHTAP_MASK_PATTERNS/ }, 'backreferences are not RE2');
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_PATTERNS: 'a*' }), { message: /matches the empty string/ });
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_PATTERNS: 'literal:ab' }), { message: /4-256 characters/ });
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_PATTERNS: '[a-z]{1000}[a-z]{1000}[a-z]{1000}' }), { message: /RE2 instructions, over the limit/ });
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_SCAN_BYTES: '64k' }), { message: /MESHTAP_MASK_SCAN_BYTES="64k": expected a number of bytes/ });
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_UNSCANNED: 'ship' }), { message: /MESHTAP_MASK_UNSCANNED="ship": expected one of cut, raw/ });
  t.throws(() => resolveMaskPolicyFromEnv({ MESHTAP_MASK_HEADERS: 'bad header' }), { message: /not an HTTP header name/ });
});

void t.test('the sidecar config validates the variables and carries the options', async (t) => {
  const config = resolveSidecarConfig({ ...POD, MESHTAP_MASK_KEYS: 'pin', MESHTAP_MAX_BODY_BYTES: '1048576' });
  t.same(config.mask.jsonKeys, ['pin']);
  t.equal(config.mask.scanBudgetBytes, 2 * 1024 * 1024);
  t.same(config.warnings, [], 'the variables are known');
  const policy = resolveMaskPolicy(config.mask);
  t.equal(maskRecord({ request: json('{"pin":"1"}') }, policy).request?.body.toString(), '{"pin":"****"}');
  t.throws(() => resolveSidecarConfig({ ...POD, MESHTAP_MASK_PATTERNS: '(' }), { code: 'SC_ERR_CONFIG', message: /MESHTAP_MASK_PATTERNS="\(": line 1/ });
});

void t.test('policy options: renamed keys get a hint, patterns are validated', async (t) => {
  t.throws(() => resolveMaskPolicy({ maskKeys: ['x'] }), { message: /did you mean "jsonKeys"/ });
  t.throws(() => resolveMaskPolicy({ patterns: ['('] }), { code: 'SC_ERR_MASK_POLICY', message: /patterns\.0/ });
  t.throws(() => resolveMaskPolicy({ unscannedBodies: 'ship' }), { code: 'SC_ERR_MASK_POLICY' });
  const noFamilies = resolveMaskPolicy({ keyFamilies: false });
  t.equal(text(maskRecord({ request: json('{"newPassword":"x","password":"y"}') }, noFamilies).request), '{"newPassword":"x","password":"****"}');
});
