import t from 'tap';
import { familyVocabulary, keyFamily, keyWords, mayNameFamily } from '../../../sidecar/mask/key-families.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { maskSqlSecrets } from '../../../sidecar/mask/sql-secrets.ts';
import { dataSecrets, fieldKind, keyNameKind } from '../../../sidecar/redis/secrets.ts';
import type { CommandArg } from '../../../sidecar/redis/render.ts';
import { rng } from '../../helpers/rng.ts';

void t.test('keys are cut into words at separators, case changes and digits', async (t) => {
  t.same(keyWords('newPassword'), ['new', 'password']);
  t.same(keyWords('db_password'), ['db', 'password']);
  t.same(keyWords('X-Amz-Security-Token'), ['x', 'amz', 'security', 'token']);
  t.same(keyWords('APIKey'), ['api', 'key']);
  t.same(keyWords('OAuthToken'), ['o', 'auth', 'token']);
  t.same(keyWords('cvv2'), ['cvv', '2']);
  t.same(keyWords('sessionID'), ['session', 'id']);
  t.same(keyWords('a.b c--d'), ['a', 'b', 'c', 'd']);
  t.same(keyWords('__'), []);
});

const caught: Array<[string, string]> = [
  ['password', 'password'],
  ['newPassword', 'password'],
  ['db_password', 'password'],
  ['PASSWORD_CONFIRMATION', 'password'],
  ['newpassword', 'password'],
  ['passwordHash', 'password'],
  ['passwd', 'password'],
  ['user_pwd', 'password'],
  ['passphrase', 'password'],
  ['client_secret', 'secret'],
  ['clientSecret', 'secret'],
  ['appsecret', 'secret'],
  ['private_key', 'secret'],
  ['privateKey', 'secret'],
  ['token', 'token'],
  ['access_token', 'token'],
  ['refreshToken', 'token'],
  ['id_token', 'token'],
  ['x-auth-token', 'token'],
  ['X-Amz-Security-Token', 'token'],
  ['authtoken', 'token'],
  ['api-key', 'api_key'],
  ['apiKey', 'api_key'],
  ['x-api-key', 'api_key'],
  ['apikey', 'api_key'],
  ['aws_secret_access_key', 'secret'],
  ['auth', 'authorization'],
  ['Authorization', 'authorization'],
  ['x-authorization', 'authorization'],
  ['credentials', 'credential'],
  ['X-Amz-Credential', 'credential'],
  ['session', 'session'],
  ['sessionId', 'session'],
  ['JSESSIONID', 'session'],
  ['PHPSESSID', 'session'],
  ['cookie', 'cookie'],
  ['cvv', 'cvv'],
  ['cvc', 'cvv'],
  ['card_cvv2', 'cvv'],
  ['csc', 'cvv'],
  ['security_code', 'cvv'],
  ['ssn', 'ssn'],
  ['social_security_number', 'ssn'],
  ['cardNumber', 'card'],
  ['card_number', 'card'],
  ['pan', 'card'],
  ['creditCard', 'card'],
  ['X-Amz-Signature', 'signature'],
  ['sig', 'signature'],
  ['signature', 'signature'],
  ['pass', 'password'],
  ['pin', 'password'],
  ['PIN', 'password'],
  ['userPin', 'password'],
  ['passcode', 'password'],
  ['pin_code', 'password'],
  ['pinCode', 'password'],
  ['pincode', 'password'],
  ['card_pin', 'password'],
  ['bearer', 'token'],
  ['Bearer', 'token'],
  ['bearer_token', 'token'],
  ['x-bearer', 'token'],
  ['authentication', 'authorization'],
  ['Authentication', 'authorization'],
  ['x-authentication', 'authorization'],
];

void t.test('secret keys are caught whatever their spelling', async (t) => {
  for (const [key, kind] of caught) t.equal(keyFamily(key), kind, key);
});

const innocent = [
  'tokenizer',
  'tokens',
  'max_tokens',
  'passage',
  'passenger',
  'author',
  'authority',
  ':authority',
  'keyboard',
  'key',
  'sec-websocket-key',
  'username',
  'user',
  'id',
  'name',
  'secretary',
  'possession',
  'design',
  'signal',
  'span_id',
  'company',
  'expand',
  'token_type',
  'tokenType',
  'password_policy',
  'session_timeout',
  'auth_url',
  'token_expires_at',
  'card',
  'jwt',
  'content-type',
  'x-request-id',
  'accept',
  'page',
  't',
  'pinned',
  'spin',
  'spinner',
  'passage',
  'compass',
  'bypass',
  'pass_count',
  'passCount',
  'pin_length',
  'pinned_at',
  'opinion',
  'bearerFormat',
  'bearer_type',
  'bearers',
  'authentication_method',
  'authenticated',
  'www-authenticate',
];

void t.test('innocent keys stay visible: words must match whole, and describing a secret is not holding one', async (t) => {
  for (const key of innocent) t.equal(keyFamily(key), undefined, key);
});

void t.test('JSON keys pass and pin mask their values; pinned and pass_count do not', async (t) => {
  const body = '{"pass":"p4ss-word","pin":1234,"pin_code":"0000","passcode":"9911","pinned":true,"spin":3,"passage":"text","compass":"N","pass_count":7}';
  const r = maskRecord({ request: { headers: {}, body: Buffer.from(body), body_size: body.length, truncated: false, content_type: 'application/json' } });
  t.equal(
    Buffer.from(r.request!.body).toString(),
    '{"pass":"****","pin":"****","pin_code":"****","passcode":"****","pinned":true,"spin":3,"passage":"text","compass":"N","pass_count":7}',
  );
  t.same(r.redacted, ['request.body.$.pass', 'request.body.$.pin', 'request.body.$.pin_code', 'request.body.$.passcode']);
});

/** The one-time codes family: second factors, verification and recovery codes. */
const oneTimeCodes = [
  'otp',
  'otp_code',
  'mfa_code',
  'mfaCode',
  'MFA-Code',
  'totp',
  'TOTP',
  'totp_code',
  'hotp',
  '2fa_code',
  '2faCode',
  '2FA-CODE',
  'two_factor_code',
  'twoFactorCode',
  'verification_code',
  'verificationCode',
  'email_verification_code',
  'recovery_code',
  'recovery_codes',
  'backup_code',
  'backupCodes',
  'x-mfa-code',
];
/** Codes that name something rather than prove someone, and words of the family that are no code. */
const notOneTimeCodes = [
  'code',
  'zip_code',
  'zipCode',
  'country_code',
  'status_code',
  'statusCode',
  'error_code',
  'promo_code',
  'promoCode',
  'discount_code',
  'postal_code',
  'currency_code',
  'language_code',
  'code_verifier',
  'mfa',
  '2fa',
  'mfa_enabled',
  'totp_enabled',
  'mfa_method',
  'otp_length',
  'otp_attempts',
  'backup_code_count',
  'recovery_codes_remaining',
  'verification_status',
  'verification',
  'recovery_email',
  'backup',
  'backup_enabled',
  'two_factor',
];

void t.test('one-time codes are passwords, as otp is; codes that name something are not', async (t) => {
  for (const key of oneTimeCodes) t.equal(keyFamily(key), 'password', key);
  for (const key of notOneTimeCodes) t.equal(keyFamily(key), undefined, key);
  // Redis key names by their last word: a code that ends the name.
  for (const key of ['otp_code', 'mfa_code', 'backup_codes', '2fa_code']) t.equal(keyFamily(key, true), 'password', `${key}, last word`);
  t.equal(keyFamily('mfa_code_length', true), undefined);
  for (const key of oneTimeCodes) t.ok(mayNameFamily(key), `the prefilter passes ${key}`);
});

void t.test('one-time codes in every place a key names a value', async (t) => {
  const json = '{"mfa_code":"111222","totp":333444,"2fa_code":"555666","verification_code":"v-777","backup_codes":["b-1","b-2"],"zip_code":"90210","promo_code":"SAVE10","code":"abc","status_code":200}';
  const form = 'otp_code=888999&recovery_code=r-123&country_code=NO';
  const r = maskRecord({
    path: '/v1/verify?totp_code=424242&error_code=E42&code=xyz',
    request: {
      headers: { 'x-mfa-code': '135790', 'x-error-code': 'E7' },
      body: Buffer.from(json),
      body_size: json.length,
      truncated: false,
      content_type: 'application/json',
    },
    response: { headers: {}, body: Buffer.from(form), body_size: form.length, truncated: false, content_type: 'application/x-www-form-urlencoded' },
    redacted: [],
    sensitive: [],
  });
  t.equal(r.path, '/v1/verify?totp_code=****&error_code=E42&code=xyz');
  t.same(r.request?.headers, { 'x-mfa-code': '****', 'x-error-code': 'E7' });
  t.equal(
    Buffer.from(r.request!.body).toString(),
    '{"mfa_code":"****","totp":"****","2fa_code":"****","verification_code":"****","backup_codes":"****","zip_code":"90210","promo_code":"SAVE10","code":"abc","status_code":200}',
  );
  t.equal(Buffer.from(r.response!.body).toString(), 'otp_code=****&recovery_code=****&country_code=NO');
  t.same(r.sensitive, ['password']);

  // SQL columns and Redis fields and keys, as their sessions judge them.
  t.equal(
    maskSqlSecrets("UPDATE users SET mfa_code = '246810', zip_code = '90210', status_code = 3 WHERE id = 1", 'postgres')?.text,
    "UPDATE users SET mfa_code = '****', zip_code = '90210', status_code = 3 WHERE id = 1",
  );
  t.equal(maskSqlSecrets("INSERT INTO codes (user_id, recovery_code, promo_code) VALUES (7, 'rc-1', 'SAVE')", 'mysql')?.text, "INSERT INTO codes (user_id, recovery_code, promo_code) VALUES (7, '****', 'SAVE')");
  t.equal(maskSqlSecrets("UPDATE orders SET promo_code = 'SAVE10', country_code = 'NO'", 'postgres'), undefined);
  const arg = (x: string): CommandArg => ({ data: Buffer.from(x), size: x.length });
  t.equal(fieldKind(arg('totp')), 'password');
  t.equal(fieldKind(arg('zip_code')), undefined);
  t.equal(keyNameKind(arg('user:7:otp_code')), 'password');
  t.equal(keyNameKind(arg('user:7:verification_code')), 'password');
  t.equal(keyNameKind(arg('user:7:promo_code')), undefined);
  t.same([...(dataSecrets('HSET', ['HSET', 'user:7', 'mfa_code', '97531', 'country_code', 'NO'].map(arg))?.masked ?? [])], [[3, 'password']]);
  t.same([...(dataSecrets('SET', ['SET', 'user:7:backup_codes', 'b1,b2'].map(arg))?.masked ?? [])], [[2, 'password']]);
});

void t.test('lastWord: only a family word or phrase that ends the name counts', async (t) => {
  for (const k of ['password', 'reset_token', 'api_key', 'apiKey', 'session-token', 'passwordhash', 'social_security_number', 'otp']) t.ok(keyFamily(k, true), k);
  for (const k of ['password_hash', 'password_policy', 'pin_code', 'token_count', 'api', 'profile', 'password-reset-queue']) t.equal(keyFamily(k, true), undefined, k);
});


void t.test('mayNameFamily is true for every name keyFamily places, in every spelling', async (t) => {
  const spell = (words: string[], style: number): string => {
    switch (style) {
      case 0: return words.join('_');
      case 1: return words.map((w, i) => (i === 0 ? w : w[0].toUpperCase() + w.slice(1))).join('');
      case 2: return words.join('-').toUpperCase();
      case 3: return words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
      case 4: return words.join('');
      case 5: return words.join('.');
      default: return words.join('2');
    }
  };
  const vocabulary = familyVocabulary().map((w) => w.split('_'));
  const others = ['user', 'new', 'db', 'x', 'api', 'id', 'value', 'card', 'hash', 'old', 'main', 'key', 'a'];
  const rand = rng(7);
  let misses = 0;
  let placed = 0;
  for (let n = 0; n < 20_000; n++) {
    const words: string[] = [];
    const parts = 1 + Math.floor(rand() * 3);
    for (let p = 0; p < parts; p++) {
      if (rand() < 0.6) words.push(...vocabulary[Math.floor(rand() * vocabulary.length)]);
      else words.push(others[Math.floor(rand() * others.length)]);
    }
    const name = spell(words, Math.floor(rand() * 7));
    if (keyFamily(name) === undefined) continue;
    placed++;
    if (!mayNameFamily(name) && misses++ < 5) t.fail(`mayNameFamily missed ${name}`);
  }
  t.equal(misses, 0, `no miss among ${placed} names in a family`);
  for (const w of familyVocabulary()) t.ok(mayNameFamily(w), w);
  // A prefilter: words that merely start like a family word (`signal`, `pinned`) pass it.
  for (const text of ['SELECT id FROM shipping JOIN company USING (id)', 'design opinion expand', 'SHIPPING', 'typing mapping']) t.notOk(mayNameFamily(text), `skips ${text}`);
});
