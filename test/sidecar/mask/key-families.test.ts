import t from 'tap';
import { keyFamily, keyWords } from '../../../sidecar/mask/key-families.ts';

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
];

void t.test('innocent keys stay visible: words must match whole, and describing a secret is not holding one', async (t) => {
  for (const key of innocent) t.equal(keyFamily(key), undefined, key);
});
