/**
 * The masking matrix: each secret a client commonly sends, masked by the default policy, must
 * appear nowhere in the record as it is encoded for the collector; values that are not secrets
 * must stay readable.
 */
import t from 'tap';
import zlib from 'node:zlib';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { recordBatchEncoder, recordToProto } from '../../../record/codec.ts';
import type { CallRecord, HttpMessage } from '../../../record/record.ts';
import { paymentCallRecord } from '../../proto/record-fixtures.ts';

function baseRecord(): CallRecord {
  return paymentCallRecord();
}

const message = (headers: Record<string, string>, body: string | Buffer = '', contentType?: string, extra: Partial<HttpMessage> = {}): HttpMessage => {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return { headers, body: bytes, body_size: bytes.length, truncated: false, ...(contentType === undefined ? {} : { content_type: contentType }), ...extra };
};

function encoded(r: CallRecord): Buffer {
  return recordBatchEncoder()({ seq: 1, sidecar: null, records: [recordToProto(r)] });
}

interface Case {
  name: string;
  record: Partial<CallRecord>;
  /** Must not appear in the encoded record. */
  secrets: string[];
  /** Must still appear (names, schemes, innocent values). */
  visible?: string[];
  /** Expected in `redacted`. */
  redacted?: string[];
}

const boundary = '----meshtapBoundary7MA4YWxk';
const multipart = [
  `--${boundary}`,
  'Content-Disposition: form-data; name="username"',
  '',
  'jane-visible-user',
  `--${boundary}`,
  'Content-Disposition: form-data; name="password"',
  '',
  'MP-pass-7f3a9c',
  `--${boundary}`,
  'Content-Disposition: form-data; name="avatar"; filename="a.png"',
  'Content-Type: image/png',
  '',
  '\x89PNG\x00\xff\xfe binary',
  `--${boundary}--`,
  '',
].join('\r\n');

const basic = Buffer.from('alice:BasicPass-91d2').toString('base64');
/** A JWT as a gRPC server echoed it back to the security review. */
const ECHO_JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJncnBjd2FsayJ9.Z3JwY3dhbGtzaWduYXR1cmU';

const cases: Case[] = [
  {
    name: 'JSON key newPassword',
    record: { request: message({}, '{"oldPassword":"OLD-pw-1b2c","newPassword":"NEW-pw-3d4e","user":"jane-visible"}', 'application/json') },
    secrets: ['OLD-pw-1b2c', 'NEW-pw-3d4e'],
    visible: ['jane-visible', 'newPassword'],
    redacted: ['request.body.$.newPassword'],
  },
  {
    name: 'JSON key db_password, nested in an array',
    record: { request: message({}, '{"dbs":[{"host":"db.visible","db_password":"DB-pw-5f6a"}]}', 'application/json') },
    secrets: ['DB-pw-5f6a'],
    visible: ['db.visible'],
    redacted: ['request.body.$.dbs[0].db_password'],
  },
  {
    name: 'JSON key cvv (number and string)',
    record: { request: message({}, '{"payment":{"cvv":"CVV-739q","cvc":9173},"amount":4200}', 'application/json') },
    secrets: ['CVV-739q', '9173'],
    visible: ['4200'],
    redacted: ['request.body.$.payment.cvv', 'request.body.$.payment.cvc'],
  },
  {
    name: 'header x-auth-token',
    record: { request: message({ 'x-auth-token': 'XAT-secret-8e9f', 'user-agent': 'curl/8.5-visible' }) },
    secrets: ['XAT-secret-8e9f'],
    visible: ['x-auth-token', 'curl/8.5-visible'],
    redacted: ['request.headers.x-auth-token'],
  },
  {
    name: 'header api-key',
    record: { request: message({ 'api-key': 'APIK-secret-0a1b' }) },
    secrets: ['APIK-secret-0a1b'],
    redacted: ['request.headers.api-key'],
  },
  {
    name: 'query X-Amz-Signature and the other presigned parameters, masked in place',
    record: {
      path: '/bucket/obj.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLECRED%2F20260101&X-Amz-Security-Token=AMZTOK-2c3d&X-Amz-Signature=ab12cd34ef56sig&page=7visible',
    },
    secrets: ['ab12cd34ef56sig', 'AKIAEXAMPLECRED', 'AMZTOK-2c3d'],
    visible: ['/bucket/obj.png?', 'X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Signature=****', 'page=7visible'],
    redacted: ['path.query.X-Amz-Signature', 'path.query.X-Amz-Credential', 'path.query.X-Amz-Security-Token'],
  },
  {
    name: 'query key: an API key of no known format, under the name many APIs take it by',
    record: { path: '/maps/api/geocode/json?address=visible-street&KEY=QK-secret-5c6d&keyword=visible-kw&key=' },
    secrets: ['QK-secret-5c6d'],
    visible: ['address=visible-street', 'KEY=****', 'keyword=visible-kw', '&key='],
    redacted: ['path.query.KEY'],
  },
  {
    name: 'query sig and token',
    record: { path: '/v1/files?sig=SIGVAL-4e5f&token=QTOK-6a7b&author=visible-author' },
    secrets: ['SIGVAL-4e5f', 'QTOK-6a7b'],
    visible: ['author=visible-author'],
  },
  {
    name: 'multipart field password (next to a binary file part)',
    record: { request: message({}, Buffer.from(multipart, 'latin1'), `multipart/form-data; boundary=${boundary}`) },
    secrets: ['MP-pass-7f3a9c'],
    visible: ['jane-visible-user', 'name="password"', '\x89PNG'],
    redacted: ['request.body.password'],
  },
  {
    name: 'form field client_secret',
    record: { request: message({}, 'grant_type=client_credentials&client_id=visible-client&client_secret=CS-secret-8c9d', 'application/x-www-form-urlencoded') },
    secrets: ['CS-secret-8c9d'],
    visible: ['client_id=visible-client', 'grant_type=client_credentials'],
    redacted: ['request.body.client_secret'],
  },
  {
    name: 'Cookie: session=…',
    record: { request: message({ cookie: 'session=SESS-cookie-0e1f; theme=dark; lonelyvalue-2a3b' }) },
    secrets: ['SESS-cookie-0e1f', 'dark', 'lonelyvalue-2a3b'],
    visible: ['session=****', 'theme=****'],
    redacted: ['request.headers.cookie'],
  },
  {
    name: 'Set-Cookie values',
    record: { response: message({ 'set-cookie': 'sid=SETC-4c5d; Path=/; HttpOnly\nrefresh=SETC-6e7f; Secure' }) },
    secrets: ['SETC-4c5d', 'SETC-6e7f'],
    visible: ['sid=****', 'HttpOnly'],
  },
  {
    name: 'Authorization: Basic …',
    record: { request: message({ authorization: `Basic ${basic}` }) },
    secrets: [basic, 'BasicPass-91d2'],
    visible: ['Basic ****'],
    redacted: ['request.headers.authorization'],
  },
  {
    name: 'Authorization: Bearer … (opaque token)',
    record: { request: message({ authorization: 'Bearer opaque-BEARER-8a9b' }) },
    secrets: ['opaque-BEARER-8a9b'],
    visible: ['Bearer ****'],
  },
  {
    name: 'JSON cut by the body limit: the key/value scanner',
    record: { request: message({}, '{"user":"visible-u","refresh_token":"RT-cut-1c2d","nested":{"apiKey":"AK-cut-3e4f"', 'application/json', { truncated: true }) },
    secrets: ['RT-cut-1c2d', 'AK-cut-3e4f'],
    visible: ['visible-u'],
  },
  {
    name: 'a secret key holding an object',
    record: { request: message({}, '{"credentials":{"user":"u","pass":"OBJ-pw-5a6b"},"keep":"visible-k"}', 'application/json') },
    secrets: ['OBJ-pw-5a6b'],
    visible: ['visible-k'],
    redacted: ['request.body.$.credentials'],
  },
  {
    name: 'a corrupt gzip body is left out, not shipped raw',
    record: {
      response: message({ 'content-encoding': 'gzip' }, Buffer.concat([zlib.gzipSync('{"password":"GZ-raw-7c8d"}').subarray(0, 12), Buffer.from('GZ-raw-7c8d')]), 'application/json', {
        content_encoding: 'gzip',
      }),
    },
    secrets: ['GZ-raw-7c8d'],
    visible: ['application/json'],
    redacted: ['response.body'],
  },
  {
    name: 'a content-encoding meshtap cannot remove is left out',
    record: { response: message({}, 'compressed-ish PLAIN-looking-9e0f', 'text/plain', { content_encoding: 'compress' }) },
    secrets: ['PLAIN-looking-9e0f'],
    redacted: ['response.body'],
  },
  {
    name: 'percent-encoded path and query: a card and a JWT right after %20',
    record: { path: `/products/card%205500000000000004/tok%20${ECHO_JWT}?q=card%205500000000000004&t=tok%20${ECHO_JWT}&page=2-visible` },
    secrets: ['550000000000', ECHO_JWT, 'Z3JwY3dhbGtzaWduYXR1cmU'],
    visible: ['/products/card%20****0004/tok%20****?q=card%20****0004&t=tok%20****&page=2-visible'],
    redacted: ['path'],
  },
  {
    name: 'form body: a card typed with spaces (+) and a JWT after %20',
    record: { request: message({}, `q=4111+1111+1111+1111&t=tok%20${ECHO_JWT}&who=visible-w`, 'application/x-www-form-urlencoded') },
    secrets: ['4111+1111+1111', ECHO_JWT],
    visible: ['q=****1111&t=tok%20****&who=visible-w'],
    redacted: ['request.body'],
  },
  {
    name: 'gRPC status message echoing a JWT: grpc_message and the grpc-message trailer',
    record: {
      protocol: 'grpc',
      grpc_status: 5,
      grpc_message: `sku "tok ${ECHO_JWT}" is not stocked`,
      response: message({ 'content-type': 'application/grpc' }, '', 'application/grpc', {
        trailers: { 'grpc-status': '5', 'grpc-message': `sku%20%22tok%20${ECHO_JWT}%22%20is%20not%20stocked` },
      }),
    },
    secrets: [ECHO_JWT, 'Z3JwY3dhbGtzaWduYXR1cmU'],
    visible: ['sku "tok ****" is not stocked', 'sku%20%22tok%20****%22%20is%20not%20stocked'],
    redacted: ['grpc_message', 'response.trailers.grpc-message'],
  },
  {
    name: 'gRPC status message echoing a card',
    record: {
      protocol: 'grpc',
      grpc_status: 5,
      grpc_message: 'sku "card 4111111111111111" is not stocked',
      response: message({ 'content-type': 'application/grpc' }, '', 'application/grpc', {
        trailers: { 'grpc-status': '5', 'grpc-message': 'sku%20%22card%204111111111111111%22%20is%20not%20stocked' },
      }),
    },
    secrets: ['411111111111'],
    visible: ['sku "card ****1111" is not stocked', 'sku%20%22card%20****1111%22%20is%20not%20stocked'],
    redacted: ['grpc_message', 'response.trailers.grpc-message'],
  },
  {
    name: 'error_detail quoting a card',
    record: { status_code: 502, error: 'reset', error_detail: 'upstream: card 5500-0000-0000-0004 declined (visible-reason)' },
    secrets: ['5500-0000-0000'],
    visible: ['upstream: card ****0004 declined (visible-reason)'],
    redacted: ['error_detail'],
  },
];

for (const c of cases) {
  void t.test(c.name, async (t) => {
    const record = { ...baseRecord(), ...c.record } as CallRecord;
    const masked = maskRecord(record);
    const bytes = encoded(masked);
    for (const s of c.secrets) t.notOk(bytes.includes(Buffer.from(s, 'latin1')), `"${s}" is not in the encoded record`);
    for (const v of c.visible ?? []) t.ok(bytes.includes(Buffer.from(v, 'latin1')), `"${v}" is still readable`);
    for (const p of c.redacted ?? []) t.ok(masked.redacted.includes(p), `redacted lists ${p}`);
    t.ok(masked.redacted.length > 0, 'something is reported as redacted');
    // The unmasked record does carry the secret: the check above can fail.
    const raw = encoded(record);
    t.ok(c.secrets.some((s) => raw.includes(Buffer.from(s, 'latin1'))), 'the secret is there before masking');
  });
}

void t.test('negative cases stay visible', async (t) => {
  const body = JSON.stringify({
    tokenizer: 'bpe-visible',
    passage: 'a-visible-passage',
    author: 'visible-author',
    keyboard: 'qwerty-visible',
    max_tokens: 4096,
    token_type: 'Bearer',
    username: 'jane-visible',
    card: 'not-a-card-visible',
    key: 'user:1-visible',
  });
  const record = {
    ...baseRecord(),
    path: '/search?author=visible-q&page=2&tokenizer=fast-visible',
    request: message({ 'user-agent': 'agent-visible', 'x-request-id': 'rid-visible', accept: 'application/json' }, body, 'application/json'),
    response: message({ 'access-control-allow-credentials': 'true', 'www-authenticate': 'Bearer realm="shop-visible"', 'sec-websocket-accept': 'wsa-visible' }),
  };
  const masked = maskRecord(record);
  t.same(masked.redacted, []);
  t.same(masked.sensitive, []);
  t.equal(masked.path, record.path);
  t.equal(Buffer.from(masked.request.body).toString(), body);
  const bytes = encoded(masked);
  t.same(masked.response.headers, record.response.headers);
  // `key` is an API key in a URL query only: a form field `key` names a lookup.
  const form = maskRecord({ ...baseRecord(), request: message({}, 'key=cache:visible-entry&ttl=60', 'application/x-www-form-urlencoded') });
  t.equal(Buffer.from(form.request!.body).toString(), 'key=cache:visible-entry&ttl=60');
  t.same(form.redacted, []);
  for (const v of ['bpe-visible', 'a-visible-passage', 'visible-author', 'qwerty-visible', 'Bearer', 'jane-visible', 'agent-visible', 'rid-visible', 'fast-visible']) {
    t.ok(bytes.includes(Buffer.from(v)), v);
  }
});
