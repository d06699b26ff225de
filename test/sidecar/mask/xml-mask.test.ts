/** XML elements named after a secret have their text masked; everything else stays byte for byte. */
import t from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { maskXmlElements } from '../../../sidecar/mask/xml-mask.ts';
import { Findings } from '../../../sidecar/mask/findings.ts';
import { DEFAULT_MASK_POLICY } from '../../../sidecar/mask/policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';
import type { HttpMessage } from '../../../record/record.ts';

const xml = (body: string, contentType = 'application/xml'): HttpMessage => ({ headers: {}, body: Buffer.from(body), body_size: body.length, truncated: false, content_type: contentType });
const text = (m: HttpMessage | undefined): string => Buffer.from(m!.body).toString();

void t.test('a login, WS-Security and an STS answer', async (t) => {
  const login = maskRecord({ path: '/login', request: xml('<login><user>jane</user><password>LK80xmlpw</password><apiKey>LK80bxmlkey</apiKey></login>'), redacted: [], sensitive: [] });
  t.equal(text(login.request), '<login><user>jane</user><password>****</password><apiKey>****</apiKey></login>');
  t.same([...login.redacted].sort(), ['request.body.apiKey', 'request.body.password']);
  t.same([...login.sensitive].sort(), ['api_key', 'password']);

  const soap =
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><wsse:Security><wsse:UsernameToken>' +
    '<wsse:Username>svc</wsse:Username><wsse:Password Type="PasswordText">LK81wssepw</wsse:Password>' +
    '</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body/></soap:Envelope>';
  const ws = maskRecord({ path: '/svc', request: xml(soap, 'text/xml; charset=utf-8'), redacted: [], sensitive: [] });
  t.equal(text(ws.request), soap.replace('LK81wssepw', '****'), 'only the password, the envelope byte for byte');

  const sts =
    '<AssumeRoleResponse><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>LK82secret/x+y</SecretAccessKey>\n' +
    '<SessionToken><![CDATA[LK82token<&>]]></SessionToken><Expiration>2026-12-08T00:00:00Z</Expiration></Credentials></AssumeRoleResponse>';
  const answer = maskRecord({ path: '/', response: xml(sts, 'text/xml'), redacted: [], sensitive: [] });
  const out = text(answer.response);
  t.notOk(out.includes('LK82'), 'the secret key and the session token are masked');
  t.ok(out.includes('<SessionToken><![CDATA[****]]></SessionToken>'), 'a CDATA section masked whole, its markers kept');
  t.ok(out.includes('<Expiration>2026-12-08T00:00:00Z</Expiration>'), 'the rest stays');
});

void t.test('in a text body too, and what stays', async (t) => {
  const log = maskRecord({ path: '/', request: xml('sent: <auth><password>LK83log</password></auth> ok', 'text/plain'), redacted: [], sensitive: [] });
  t.equal(text(log.request), 'sent: <auth><password>****</password></auth> ok');
  const f = new Findings(1 << 20);
  for (const keep of [
    '<passwordPolicy><minLength>8</minLength></passwordPolicy>',
    '<password/>',
    '<password></password>',
    '<password>  </password>',
    '<credentials><user>a</user></credentials>',
    '<a>1</b>',
    '</password>',
    '<!-- <password>x</password> is an example -->x]]></password>',
  ]) {
    const out = maskXmlElements(keep, 'request.body', DEFAULT_MASK_POLICY, f);
    if (keep.startsWith('<!--')) t.equal(out, '<!-- <password>****</password> is an example -->x]]></password>', 'a commented example is masked too (it looks the same)');
    else t.equal(out, keep, keep);
  }
});

void t.test('linear on hostile input (the scanners\' meter, no clocks)', async (t) => {
  const f = new Findings(1 << 20);
  const hostile = [
    (n: number) => `${'x]]></a>'.repeat(n)}<![CDATA[`,
    (n: number) => `${'<'.repeat(2 * n)}${'</a>'.repeat(n)}`,
    (n: number) => `${'<password>x'.repeat(n)}${'</password>'.repeat(n)}`,
    (n: number) => `<![CDATA[${'a]]></p>'.repeat(n)}`,
  ];
  for (const make of hostile) {
    const steps = (n: number): number => {
      resetScanMeter();
      maskXmlElements(make(n), 'request.body', DEFAULT_MASK_POLICY, f);
      return scanMeter.steps;
    };
    const small = steps(20_000);
    const large = steps(40_000);
    t.ok(large <= 2.2 * small + 100 && large <= 4 * make(40_000).length, `${make(2).slice(0, 24)}…: ${small} → ${large} steps`);
  }
});
