import v8 from 'node:v8';
import vm from 'node:vm';
import { getTable } from '../../klaviyo/catalog';
import { KlaviyoClient } from '../../klaviyo/klaviyo-client';
import { nextPage, type KlaviyoPage } from '../../klaviyo/paging';
import { sendJson, startScriptedHttpServer, type ScriptedHttpServer } from './scripted-http-server';

/**
 * A page handed to the consumer is the consumer's alone: while the read waits for the next answer (a round trip over
 * the internet, for every slice of a sliced read), it keeps nothing of the last page, raw or parsed.
 */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const SECOND = '/api/profiles?page%5Bcursor%5D=two';
let server: ScriptedHttpServer;
let client: KlaviyoClient;

beforeAll(async () => {
  server = await startScriptedHttpServer();
  client = new KlaviyoClient({ apiKey: 'pk_' + 'retention0test0key0000000000000000', baseUrl: server.baseUrl });
});

afterAll(async () => {
  client.close();
  await server.close();
});

function page(ids: string[], next: string | null) {
  const data = ids.map((id) => ({ type: 'profile', id, attributes: { email: `${id}@example.com` } }));
  return { data, links: { self: 'https://a.klaviyo.com/api/profiles', next } };
}

test('the read holds no page it has handed over while it waits for the next answer', async () => {
  let answerSecond: (() => void) | undefined;
  server.handle((req, res) => {
    if (req.url === SECOND) answerSecond = () => sendJson(res, 200, page(['last'], null));
    else
      sendJson(
        res,
        200,
        page(
          Array.from({ length: 100 }, (_, i) => `p${i}`),
          `https://a.klaviyo.com${SECOND}`,
        ),
      );
  });
  const pages = client.pages({ table: getTable('profiles') });
  let first: KlaviyoPage | undefined = await nextPage(pages);
  const handedOver = new WeakRef(first?.data ?? []);
  first = undefined;
  // The read goes on to the second page, whose answer does not come until told.
  const second = nextPage(pages);
  while (!answerSecond) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  expect(handedOver.deref()).toBeUndefined();
  answerSecond();
  expect((await second)?.data.map((r) => r.id)).toEqual(['last']);
  expect(await nextPage(pages)).toBeUndefined();
});
