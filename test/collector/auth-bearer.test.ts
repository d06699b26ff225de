/** The 401 for an Authorization header without the Bearer scheme says how to write the header. */
import t from 'tap';
import { kubernetesAccess, tokenAccess } from '../../collector/auth/access.ts';
import { authorizationProblem, bearerToken } from '../../collector/auth/bearer.ts';
import type { TokenSet } from '../../collector/auth/token-set.ts';

const TOKEN = 'the-token-aaaaaaaaaaaaaaaaaaaaaa';
const tokens: TokenSet = { path: '/etc/meshtap/tokens', matches: (token) => token === TOKEN, size: () => 1 };

void t.test('a bearer token is read in any case of the scheme; anything else gives none', async (t) => {
  t.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
  t.equal(bearerToken(`bearer  ${TOKEN} `), TOKEN);
  for (const header of [TOKEN, `Basic ${TOKEN}`, 'Bearer', `Bearer ${TOKEN} x`, '', undefined, ['a', 'b']]) t.equal(bearerToken(header), undefined, String(header));
});

void t.test('token auth: a header without "Bearer " is a 401 saying how to write it, never quoting it', async (t) => {
  const access = tokenAccess(tokens);
  const cases: Array<[unknown, string]> = [
    [TOKEN, 'has the token alone: write "Bearer " before it'],
    [`Basic ${TOKEN}`, 'uses the Basic scheme, not Bearer'],
    [`token ${TOKEN}`, 'uses the Token scheme, not Bearer'],
    [`Bearer: ${TOKEN}`, 'does not start with "Bearer "'],
    ['Bearer', 'has no token after "Bearer"'],
    [`Bearer ${TOKEN} ${TOKEN}`, 'has more than one word after "Bearer"'],
    ['  ', 'is empty'],
  ];
  for (const [header, problem] of cases) {
    t.equal(authorizationProblem(header), problem, String(header));
    const result = await access.authenticate(undefined, header);
    t.same(
      result,
      {
        ok: false,
        status: 401,
        message: `the Authorization header must be "Authorization: Bearer <token>", and this one ${problem}; <token> is a token from the collector's token file (/etc/meshtap/tokens); meshtap tap and meshtap lab status find it for the lab`,
      },
      String(header),
    );
    if (!result.ok) t.notMatch(result.message, TOKEN, 'the header is not repeated: it may be the token');
  }
  // No header at all, and a bearer token, answer as before.
  t.same(await access.authenticate(undefined, undefined), { ok: false, status: 401, message: `authentication required: send "Authorization: Bearer <token>" with a token from the collector's token file (/etc/meshtap/tokens); meshtap tap and meshtap lab status find it for the lab` });
  t.same(await access.authenticate(undefined), await access.authenticate(undefined, undefined));
  t.match(await access.authenticate(TOKEN, `Bearer ${TOKEN}`), { ok: true });
  t.match(await access.authenticate('wrong', 'Bearer wrong'), { ok: false, status: 401, message: /^the bearer token is not valid/ });
  // A session cookie's token decides even beside a malformed header.
  t.match(await access.authenticate(TOKEN, TOKEN), { ok: true });
});

void t.test('kubernetes auth: the same answer, naming the token it needs', async (t) => {
  const access = kubernetesAccess({
    api: {
      tokenReview: async () => undefined,
      mayGetCalls: async () => false,
    },
  });
  const result = await access.authenticate(undefined, TOKEN);
  t.match(result, { ok: false, status: 401, message: /^the Authorization header must be "Authorization: Bearer <token>", and this one has the token alone: write "Bearer " before it; <token> is a Kubernetes token/ });
});
