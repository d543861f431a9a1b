// The HTTP baseline: a bare fastify route that parses an invoke-shaped JSON body and returns a
// result shaped like the JIT's invoke result, computing the sum in JS. PORT from the environment
// (0: any free port); it prints the address it listens on.

import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post<{ Params: { dylib: string; symbol: string }; Body: { args: number[] } }>('/dylibs/:dylib/symbols/:symbol/invoke', async (req) => {
  const [a = 0, b = 0] = req.body.args;
  const s = (a + b) | 0;
  return { results: [{ type: 'i32', value: s, bits: String(s >>> 0) }], compiled: [], output: [], timing: { compileMs: 0, runMs: 0.01 } };
});
app.get('/health', async () => ({ status: 'ok' }));
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(`listening ${address}\n`);
