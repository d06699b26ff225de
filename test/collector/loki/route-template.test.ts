import t from 'tap';
import { MAX_ROUTE_LENGTH, templateRoute } from '../../../collector/loki/route-template.ts';

void t.test('identifiers become {id}, words stay', async (t) => {
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ['', '/'],
    ['/', '/'],
    ['/orders/98431/pay', '/orders/{id}/pay'],
    ['/orders/98431/pay?attempt=2#top', '/orders/{id}/pay'],
    ['/users/550e8400-e29b-41d4-a716-446655440000', '/users/{id}'],
    ['/users/550E8400E29B41D4A716446655440000/avatar', '/users/{id}/avatar'],
    ['/objects/5f2b9c3d1e7a4b6c8d9e0f1a', '/objects/{id}'],
    ['/blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', '/blobs/sha256/{id}'],
    ['/commits/abc12345', '/commits/{id}'],
    ['/keys/01HZX3K9Q7M2V8R4T6W1Y5B0NC', '/keys/{id}'],
    ['/api/v1/oauth2/s3', '/api/v1/oauth2/s3'],
    ['/feed/deadbeef', '/feed/deadbeef'],
    ['/shop.catalog.v1.Catalog/GetProduct', '/shop.catalog.v1.Catalog/GetProduct'],
    ['/a/1/b/2/c/3', '/a/{id}/b/{id}/c/{id}'],
    ['/trailing/42/', '/trailing/{id}/'],
    ['/enc/%31%32%33', '/enc/{id}'],
    ['/bad/%zz', '/bad/%zz'],
    ['http://payment.shop:8080/orders/7', '/orders/{id}'],
    ['/ctl/a\u0001b', '/ctl/a_b'],
  ];
  for (const [path, route] of cases) t.equal(templateRoute(path), route, String(path));
});

void t.test('routes are bounded', async (t) => {
  const long = '/' + Array.from({ length: 200 }, (_, i) => `seg${String.fromCharCode(97 + (i % 26))}x`).join('/');
  const route = templateRoute(long)!;
  t.equal(route.length, MAX_ROUTE_LENGTH);
  t.ok(route.endsWith('...'));
});
