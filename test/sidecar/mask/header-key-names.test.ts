/**
 * Header names that end with the word `key` hold one (`Ocp-Apim-Subscription-Key`,
 * `x-functions-key`), except the standard ones whose values are no secret.
 */
import t from 'tap';
import { maskRecord } from '../../../sidecar/mask/mask-record.ts';
import { resolveMaskPolicy } from '../../../sidecar/mask/policy.ts';
import type { HttpMessage } from '../../../record/record.ts';

const headers = (h: Record<string, string>): HttpMessage => ({ headers: h, body: Buffer.alloc(0), body_size: 0, truncated: false });

void t.test('a header named after a key is masked whole', async (t) => {
  const sent = {
    'ocp-apim-subscription-key': 'LKH1apim',
    'x-functions-key': 'LKH2func',
    'X-License-Key': 'LKH3lic',
    'x-partner_keys': 'LKH4keys',
  };
  const r = maskRecord({ path: '/', request: headers(sent), redacted: [], sensitive: [] });
  t.same(r.request!.headers, { 'ocp-apim-subscription-key': '****', 'x-functions-key': '****', 'X-License-Key': '****', 'x-partner_keys': '****' });
  t.same([...r.redacted].sort(), Object.keys(sent).map((k) => `request.headers.${k}`).sort());
  t.same(r.sensitive, ['api_key']);
});

void t.test('an HMAC by its name is a signature', async (t) => {
  const r = maskRecord({ path: '/hook?hmac=LKH6qhmac&shop=kept', request: headers({ 'X-Hmac': 'LKH6hmac', 'x-shopify-hmac-sha256': 'LKH6shopify' }), redacted: [], sensitive: [] });
  t.same(r.request!.headers, { 'X-Hmac': '****', 'x-shopify-hmac-sha256': '****' });
  t.equal(r.path, '/hook?hmac=****&shop=kept');
  t.same(r.sensitive, ['signature']);
});

void t.test('the standard key headers and words that only end in "key" stay readable', async (t) => {
  const sent = {
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'idempotency-key': '8e03978e-40d5-43e8-bc93-6894a57f9324',
    'x-idempotency-key': 'order-7',
    'x-monkey': 'banana',
    'x-keyboard-layout': 'dvorak',
  };
  const r = maskRecord({ path: '/', request: headers(sent), redacted: [], sensitive: [] });
  t.same(r.request!.headers, sent);
  t.same(r.redacted, []);
});

void t.test('with key families off, only the policy\'s own headers are masked', async (t) => {
  const policy = resolveMaskPolicy({ keyFamilies: false });
  const r = maskRecord({ path: '/', request: headers({ 'x-functions-key': 'kept' }), redacted: [], sensitive: [] }, policy);
  t.same(r.request!.headers, { 'x-functions-key': 'kept' });
});
