import t from 'tap';
import { familyVocabulary, keyFamily, keyWords, mayNameFamily } from '../../../sidecar/mask/key-families.ts';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
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
