// Unit tests of the SDK core: node --test plugins/sdk-js
import test from 'node:test';
import assert from 'node:assert/strict';

import {
  tool, exportTools, output, text, blob, resourceLink, InvalidArguments, ToolFailed, ClientError, checkArguments, toToolError, makeLog,
  makeClient, ClientRequest,
} from './warden.js';

const add = tool(
  {
    name: 'add',
    title: 'Add',
    description: 'Adds two numbers',
    inputSchema: {
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number', default: 1 }, unit: { type: 'string', enum: ['m', 'km'] } },
      required: ['a'],
      additionalProperties: false,
    },
    outputSchema: { type: 'object', properties: { sum: { type: 'number' } }, required: ['sum'] },
    annotations: { readOnly: true, idempotent: true },
  },
  ({ a, b }) => ({ sum: a + b }),
);

function plugin(tools, imports) {
  return exportTools(tools, imports ?? { log: () => {} });
}

test('listTools describes each tool as the WIT record, with schemas as JSON text', () => {
  const [d] = plugin([add]).listTools();
  assert.equal(d.name, 'add');
  assert.equal(d.title, 'Add');
  assert.equal(d.description, 'Adds two numbers');
  assert.equal(JSON.parse(d.inputSchema).required[0], 'a');
  assert.deepEqual(JSON.parse(d.outputSchema).required, ['sum']);
  assert.deepEqual(d.annotations, { readOnly: true, destructive: undefined, idempotent: true, openWorld: undefined });
  assert.deepEqual(d.requires, []);
});

test('requires lists the client features a tool needs, checked at build time', () => {
  const t = tool({ name: 'ask', description: 'd', requires: ['sampling', 'roots', 'sampling'] }, () => {});
  assert.deepEqual(t.descriptor.requires, ['sampling', 'roots']);
  assert.throws(() => tool({ name: 'x', description: 'd', requires: ['sample'] }, () => {}), /requires "sample", not one of sampling, elicitation, roots/);
  assert.throws(() => tool({ name: 'x', description: 'd', requires: 'sampling' }, () => {}), /requires must be an array/);
});

test('a tool without inputSchema takes no arguments', () => {
  const t = tool({ name: 'ping', description: 'Pong' }, () => 'pong');
  assert.deepEqual(JSON.parse(t.descriptor.inputSchema), { type: 'object', properties: {} });
  assert.equal(t.descriptor.outputSchema, undefined);
  assert.equal(t.descriptor.title, undefined);
});

test('tool() refuses bad declarations at build time', () => {
  assert.throws(() => tool({ name: 'bad name', description: 'x' }, () => {}), /must be 1-64 characters/);
  assert.throws(() => tool({ name: 'x', description: '' }, () => {}), /description/);
  assert.throws(() => tool({ name: 'x', description: 'd', inputSchema: { type: 'array' } }, () => {}), /"type": "object"/);
  assert.throws(() => tool({ name: 'x', description: 'd', annotations: { readonly: true } }, () => {}), /unknown annotation/);
  assert.throws(() => tool({ name: 'x', description: 'd' }), /handler/);
  const t = tool({ name: 'x', description: 'd' }, () => {});
  assert.throws(() => exportTools([t, t]), /two tools are named x/);
});

test('an object result is structured content plus its JSON as text', async () => {
  const r = await plugin([add]).callTool('add', '{"a": 2}');
  assert.deepEqual(r, { tag: 'ok', val: { content: [{ tag: 'text', val: '{"sum":3}' }], structured: '{"sum":3}' } });
});

test('a string result is one text block; null is empty; arrays are JSON text', async () => {
  const p = plugin([
    tool({ name: 's', description: 'd' }, () => 'hello'),
    tool({ name: 'n', description: 'd' }, () => undefined),
    tool({ name: 'a', description: 'd' }, async () => [1, 2]),
  ]);
  assert.deepEqual(await p.callTool('s', '{}'), { tag: 'ok', val: { content: [{ tag: 'text', val: 'hello' }], structured: undefined } });
  assert.deepEqual(await p.callTool('n', '{}'), { tag: 'ok', val: { content: [], structured: undefined } });
  assert.deepEqual(await p.callTool('a', '{}'), { tag: 'ok', val: { content: [{ tag: 'text', val: '[1,2]' }], structured: undefined } });
});

test('output() combines text, structured content and blobs', async () => {
  const png = new Uint8Array([137, 80, 78, 71]);
  const p = plugin([
    tool({ name: 'o', description: 'd' }, () => output({ text: 'two rows', structured: { rows: 2 }, content: [blob(png, 'image/png'), text('end')] })),
    tool({ name: 'j', description: 'd' }, () => output({ structured: { ok: true } })),
  ]);
  const r = await p.callTool('o', '{}');
  assert.equal(r.tag, 'ok');
  assert.deepEqual(r.val.content[0], { tag: 'text', val: 'two rows' });
  assert.deepEqual(r.val.content[1], { tag: 'blob', val: { data: png, mimeType: 'image/png' } });
  assert.deepEqual(r.val.content[2], { tag: 'text', val: 'end' });
  assert.equal(r.val.structured, '{"rows":2}');
  const j = await p.callTool('j', '{}');
  assert.deepEqual(j.val.content, [{ tag: 'text', val: '{"ok":true}' }]);
  assert.throws(() => output({ structured: [1] }), /plain object/);
});

test('InvalidArguments and ToolFailed become the matching tool-error', async () => {
  const p = plugin([
    tool({ name: 'i', description: 'd' }, () => {
      throw new InvalidArguments('unknown zone Mars/Olympus');
    }),
    tool({ name: 'f', description: 'd' }, async () => {
      throw new ToolFailed('upstream said no');
    }),
  ]);
  assert.deepEqual(await p.callTool('i', '{}'), { tag: 'err', val: { tag: 'invalid-arguments', val: 'unknown zone Mars/Olympus' } });
  assert.deepEqual(await p.callTool('f', '{}'), { tag: 'err', val: { tag: 'failed', val: 'upstream said no' } });
});

test('any other thrown value fails the call with its message, never throws', async () => {
  const logged = [];
  const p = plugin(
    [
      tool({ name: 'type', description: 'd' }, (args) => args.missing.field),
      tool({ name: 'str', description: 'd' }, () => {
        throw 'plain string';
      }),
      tool({ name: 'obj', description: 'd' }, () => {
        throw { code: 7 };
      }),
      tool({ name: 'frames', description: 'd' }, () => {
        const e = new RangeError('too far');
        e.stack = 'go@app.js:3:9\n'; // SpiderMonkey's stack: frames only
        throw e;
      }),
      tool({ name: 'bad', description: 'd' }, () => Symbol('x')),
      tool({ name: 'cycle', description: 'd' }, () => {
        const o = {};
        o.self = o;
        return o;
      }),
    ],
    { log: (level, message) => logged.push([level, message]) },
  );
  const type = await p.callTool('type', '{}');
  assert.equal(type.tag, 'err');
  assert.equal(type.val.tag, 'failed');
  assert.match(type.val.val, /^TypeError: /);
  assert.deepEqual(await p.callTool('str', '{}'), { tag: 'err', val: { tag: 'failed', val: 'plain string' } });
  assert.deepEqual(await p.callTool('obj', '{}'), { tag: 'err', val: { tag: 'failed', val: '{"code":7}' } });
  assert.match((await p.callTool('bad', '{}')).val.val, /returned a symbol, which is not a result/);
  assert.match((await p.callTool('cycle', '{}')).val.val, /circular|cyclic/i);
  assert.ok(logged.some(([level, m]) => level === 'warn' && m.startsWith('type failed: TypeError')));
  await p.callTool('frames', '{}');
  assert.deepEqual(logged.at(-1), ['warn', 'frames failed: RangeError: too far\ngo@app.js:3:9']);
});

test('an error result of an import (payload) is described by its variant', () => {
  const e = new Error('[object Object] (see error.payload)');
  Object.defineProperty(e, 'payload', { value: { tag: 'connection-refused' } });
  assert.deepEqual(toToolError(e), { tag: 'failed', val: 'connection-refused' });
  const f = new Error('x');
  Object.defineProperty(f, 'payload', { value: { tag: 'internal-error', val: 'boom' } });
  assert.deepEqual(toToolError(f), { tag: 'failed', val: 'internal-error: boom' });
});

test('unknown tools and malformed JSON', async () => {
  const p = plugin([add]);
  assert.deepEqual(await p.callTool('nope', '{}'), { tag: 'err', val: { tag: 'unknown-tool', val: 'this plugin has no tool named nope' } });
  const r = await p.callTool('add', '{not json');
  assert.equal(r.val.tag, 'invalid-arguments');
  assert.match(r.val.val, /not valid JSON/);
});

test('arguments: required, primitive types, enum, defaults, unknown properties', async () => {
  const p = plugin([add]);
  const call = async (args) => (await p.callTool('add', JSON.stringify(args))).val;
  assert.deepEqual(await call({}), { tag: 'invalid-arguments', val: 'missing required argument a' });
  assert.deepEqual(await call({ a: 'x' }), { tag: 'invalid-arguments', val: 'argument a must be a number, not a string' });
  assert.deepEqual(await call({ a: 1, unit: 'mi' }), { tag: 'invalid-arguments', val: 'argument unit must be one of "m", "km"' });
  assert.deepEqual(await call({ a: 1, c: 2 }), { tag: 'invalid-arguments', val: 'unknown argument c' });
  assert.equal((await call({ a: 1, b: 2 })).structured, '{"sum":3}');
  assert.throws(() => checkArguments({ type: 'object' }, [1]), /must be a JSON object, not an array/);
  assert.deepEqual(checkArguments({ type: 'object', properties: { n: { type: ['integer', 'null'] } } }, { n: null }), { n: null });
  assert.throws(() => checkArguments({ type: 'object', properties: { n: { type: 'integer' } } }, { n: 1.5 }), /must be an integer, not a number/);
});

test('defaults are copied, not shared between calls', async () => {
  const seen = [];
  const t = tool(
    { name: 'd', description: 'd', inputSchema: { type: 'object', properties: { list: { type: 'array', default: [] } } } },
    ({ list }) => {
      list.push(1);
      seen.push(list.length);
      return 'ok';
    },
  );
  const p = plugin([t]);
  await p.callTool('d', '{}');
  await p.callTool('d', '{}');
  assert.deepEqual(seen, [1, 1]);
});

test('handlers get log and progress that reach the imports', async () => {
  const logs = [];
  const reports = [];
  const p = exportTools(
    [
      tool({ name: 'work', description: 'd' }, (args, ctx) => {
        ctx.log.info('starting', { step: 1 });
        ctx.progress(1, 2, 'half');
        ctx.progress(2);
        return ctx.tool;
      }),
    ],
    { log: (level, message) => logs.push([level, message]), report: (...a) => reports.push(a) },
  );
  const r = await p.callTool('work', '{}');
  assert.equal(r.val.content[0].val, 'work');
  assert.deepEqual(logs, [['info', 'starting {"step":1}']]);
  assert.deepEqual(reports, [[1, 2, 'half'], [2, undefined, undefined]]);
});

test('makeLog never throws, even when the import does', () => {
  const log = makeLog(() => {
    throw new Error('host gone');
  });
  log.error('still fine');
  log('nonsense-level', 'mapped to info');
});

test('resourceLink() is the resource-link content case; size becomes a u64 BigInt', async () => {
  const link = resourceLink({ uri: 'notes:///a.md', name: 'a.md', title: 'A', mimeType: 'text/markdown', size: 120 });
  assert.deepEqual(link, {
    tag: 'resource-link',
    val: { uri: 'notes:///a.md', name: 'a.md', title: 'A', description: undefined, mimeType: 'text/markdown', size: 120n },
  });
  assert.equal(resourceLink({ uri: 'https://example.com/', name: 'site' }).val.size, undefined);
  assert.equal(resourceLink({ uri: 'https://example.com/', name: 'site', size: 2n ** 60n }).val.size, 2n ** 60n);
  assert.throws(() => resourceLink({ name: 'x' }), /uri/);
  assert.throws(() => resourceLink({ uri: 'a:b' }), /name/);
  assert.throws(() => resourceLink({ uri: 'a:b', name: 'x', size: -1 }), /size/);
  assert.throws(() => resourceLink({ uri: 'a:b', name: 'x', size: 1.5 }), /size/);
  assert.throws(() => resourceLink({ uri: 'a:b', name: 'x', mimeType: 3 }), /mimeType/);
  const p = plugin([tool({ name: 'l', description: 'd' }, () => output({ text: 'one file', content: [link] }))]);
  assert.deepEqual((await p.callTool('l', '{}')).val.content, [{ tag: 'text', val: 'one file' }, link]);
});

/** A fake `warden:plugin/client` import: records requests, answers from `answers`. */
function fakeClient(answers) {
  const calls = [];
  const answer = (name) => (...args) => {
    calls.push([name, ...args]);
    const a = answers[name];
    if (a instanceof Error) throw a;
    return a;
  };
  return { calls, imports: { sample: answer('sample'), elicit: answer('elicit'), listRoots: answer('listRoots'), ask: answer('ask') } };
}

/** What componentize-js throws for an import's `result` error. */
function componentError(payload) {
  const e = new Error(`${String(payload)} (see error.payload)`);
  Object.defineProperty(e, 'payload', { value: payload });
  return e;
}

test('sample() builds the sampling-request and reads the response', async () => {
  const { calls, imports } = fakeClient({
    sample: { role: 'assistant', content: { tag: 'text', val: 'Paris' }, model: 'm-1', stopReason: 'endTurn' },
  });
  const client = makeClient(imports);
  assert.deepEqual(await client.sample('Capital of France?'), { text: 'Paris', content: { tag: 'text', val: 'Paris' }, role: 'assistant', model: 'm-1', stopReason: 'endTurn' });
  assert.deepEqual(calls[0][1], {
    messages: [{ role: 'user', content: { tag: 'text', val: 'Capital of France?' } }],
    systemPrompt: undefined,
    modelPreferences: undefined,
    maxTokens: 1024,
    temperature: undefined,
    stopSequences: [],
  });
  const png = new Uint8Array([1, 2]);
  await client.sample(
    [{ role: 'user', content: 'Describe' }, { role: 'user', content: blob(png, 'image/png') }, { role: 'assistant', content: text('A') }],
    { systemPrompt: 'Be brief', maxTokens: 50, temperature: 0.2, stopSequences: ['\n'], modelPreferences: { hints: ['claude'], speedPriority: 1 } },
  );
  assert.deepEqual(calls[1][1], {
    messages: [
      { role: 'user', content: { tag: 'text', val: 'Describe' } },
      { role: 'user', content: { tag: 'blob', val: { data: png, mimeType: 'image/png' } } },
      { role: 'assistant', content: { tag: 'text', val: 'A' } },
    ],
    systemPrompt: 'Be brief',
    modelPreferences: { hints: ['claude'], costPriority: undefined, speedPriority: 1, intelligencePriority: undefined },
    maxTokens: 50,
    temperature: 0.2,
    stopSequences: ['\n'],
  });
});

test('sample() refuses malformed requests before asking the host', async () => {
  const { calls, imports } = fakeClient({});
  const client = makeClient(imports);
  await assert.rejects(client.sample([]), /prompt string or a non-empty array/);
  await assert.rejects(client.sample('x', { maxTokens: 0 }), /maxTokens/);
  await assert.rejects(client.sample([{ role: 'system', content: 'x' }]), /role must be user or assistant/);
  await assert.rejects(client.sample([{ content: resourceLink({ uri: 'a:b', name: 'b' }) }]), /content must be a string, text\(\) or blob\(\)/);
  await assert.rejects(client.sample('x', { modelPreferences: { costPriority: 2 } }), /costPriority must be a number from 0 to 1/);
  await assert.rejects(client.sample('x', { stopSequences: 'END' }), /stopSequences/);
  assert.deepEqual(calls, []);
});

test('elicit() sends a form and parses the accepted content; elicitUrl() sends a URL', async () => {
  const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
  const { calls, imports } = fakeClient({ elicit: { tag: 'accept', val: '{"name":"Ada"}' } });
  const client = makeClient(imports);
  assert.deepEqual(await client.elicit('Who?', schema), { action: 'accept', content: { name: 'Ada' } });
  assert.deepEqual(calls[0], ['elicit', { tag: 'form', val: { message: 'Who?', requestedSchema: JSON.stringify(schema) } }]);
  await assert.rejects(client.elicit('Who?', { type: 'string' }), /"type": "object"/);

  for (const tag of ['decline', 'cancel']) {
    const c = makeClient(fakeClient({ elicit: { tag } }).imports);
    assert.deepEqual(await c.elicit('Who?', schema), { action: tag });
    assert.deepEqual(await c.elicitUrl('Sign in', 'https://example.com/login'), { action: tag });
  }
  const url = fakeClient({ elicit: { tag: 'accept', val: undefined } });
  assert.deepEqual(await makeClient(url.imports).elicitUrl('Sign in', 'https://example.com/login'), { action: 'accept' });
  assert.deepEqual(url.calls[0], ['elicit', { tag: 'url', val: { message: 'Sign in', url: 'https://example.com/login' } }]);

  const bad = makeClient(fakeClient({ elicit: { tag: 'accept', val: '{oops' } }).imports);
  await assert.rejects(bad.elicit('Who?', schema), (e) => e instanceof ClientError && e.kind === 'failed' && /not valid JSON/.test(e.message));
});

test('listRoots() returns { uri, name }', async () => {
  const { imports } = fakeClient({ listRoots: [{ uri: 'file:///src', name: 'src' }, { uri: 'file:///tmp', name: undefined }] });
  assert.deepEqual(await makeClient(imports).listRoots(), [{ uri: 'file:///src', name: 'src' }, { uri: 'file:///tmp', name: undefined }]);
});

test('a client-error from the host is thrown as ClientError with its kind', async () => {
  const cases = [['unsupported', 'unsupported'], ['denied', 'denied'], ['limit-exceeded', 'limit_exceeded'], ['failed', 'failed']];
  for (const [tag, kind] of cases) {
    const error = componentError({ tag, val: `because ${tag}` });
    const client = makeClient(fakeClient({ sample: error, elicit: error, listRoots: error }).imports);
    for (const [request, run] of [['sample', () => client.sample('x')], ['elicit', () => client.elicit('x', { type: 'object' })], ['list-roots', () => client.listRoots()]]) {
      await assert.rejects(run(), (e) => {
        assert.ok(e instanceof ClientError);
        assert.deepEqual([e.kind, e.message, e.request, e.name], [kind, `because ${tag}`, request, 'ClientError']);
        return true;
      });
    }
  }
  const other = new TypeError('not a client error');
  await assert.rejects(makeClient(fakeClient({ listRoots: other }).imports).listRoots(), (e) => e === other);
  await assert.rejects(makeClient().listRoots(), (e) => e instanceof ClientError && e.kind === 'unsupported');
});

test('handlers get ctx.client; an uncaught ClientError fails the call with its kind and message', async () => {
  const { imports } = fakeClient({
    sample: componentError({ tag: 'limit-exceeded', val: 'max_sampling_tokens (4000) reached' }),
    listRoots: [{ uri: 'file:///w', name: 'w' }],
  });
  const logged = [];
  const p = exportTools(
    [
      tool({ name: 'ask', description: 'd', requires: ['sampling'] }, async (args, ctx) => (await ctx.client.sample('hi')).text),
      tool({ name: 'roots', description: 'd', requires: ['roots'] }, async (args, ctx) => (await ctx.client.listRoots()).map((r) => r.uri)),
    ],
    { log: (level, message) => logged.push([level, message]), client: imports },
  );
  assert.deepEqual(await p.callTool('ask', '{}'), { tag: 'err', val: { tag: 'failed', val: 'sample: limit_exceeded: max_sampling_tokens (4000) reached' } });
  assert.ok(logged.some(([level, m]) => level === 'warn' && m.startsWith('ask failed: sample: limit_exceeded: max_sampling_tokens (4000) reached\nClientError')));
  assert.deepEqual((await p.callTool('roots', '{}')).val.content, [{ tag: 'text', val: '["file:///w"]' }]);
  const none = await exportTools([tool({ name: 'none', description: 'd' }, (args, ctx) => ctx.client.listRoots())], { log: () => {} }).callTool('none', '{}');
  assert.equal(none.val.tag, 'failed');
  assert.match(none.val.val, /^list-roots: unsupported: /);
});

test('askAll() sends the batch under its keys and answers in order', async () => {
  const schema = { type: 'object', properties: { name: { type: 'string' } } };
  const response = { role: 'assistant', content: { tag: 'text', val: 'Short.' }, model: 'm-2', stopReason: undefined };
  const { calls, imports } = fakeClient({
    ask: [
      { tag: 'ok', val: { tag: 'sampled', val: response } },
      { tag: 'ok', val: { tag: 'elicited', val: { tag: 'accept', val: '{"name":"Ada"}' } } },
      { tag: 'ok', val: { tag: 'elicited', val: { tag: 'decline' } } },
      { tag: 'ok', val: { tag: 'roots', val: [{ uri: 'file:///src', name: undefined }] } },
    ],
  });
  const answers = await makeClient(imports).askAll([
    ['summary', ClientRequest.sample('Summarize', { maxTokens: 50 })],
    ['who', ClientRequest.elicit('Who?', schema)],
    ['login', ClientRequest.elicitUrl('Sign in', 'https://example.com/login')],
    ['roots.1', ClientRequest.listRoots()],
  ]);
  assert.deepEqual(calls, [['ask', [
    ['summary', { tag: 'sample', val: {
      messages: [{ role: 'user', content: { tag: 'text', val: 'Summarize' } }],
      systemPrompt: undefined, modelPreferences: undefined, maxTokens: 50, temperature: undefined, stopSequences: [],
    } }],
    ['who', { tag: 'elicit', val: { tag: 'form', val: { message: 'Who?', requestedSchema: JSON.stringify(schema) } } }],
    ['login', { tag: 'elicit', val: { tag: 'url', val: { message: 'Sign in', url: 'https://example.com/login' } } }],
    ['roots.1', { tag: 'list-roots' }],
  ]]]);
  assert.deepEqual(answers, [
    { text: 'Short.', content: { tag: 'text', val: 'Short.' }, role: 'assistant', model: 'm-2', stopReason: undefined },
    { action: 'accept', content: { name: 'Ada' } },
    { action: 'decline' },
    [{ uri: 'file:///src', name: undefined }],
  ]);
  assert.deepEqual(await makeClient(fakeClient({ ask: [] }).imports).askAll([]), []);
});

test('askAll() returns each refusal as a ClientError named by its key', async () => {
  const { imports } = fakeClient({
    ask: [
      { tag: 'err', val: { tag: 'denied', val: 'sampling is not granted' } },
      { tag: 'ok', val: { tag: 'elicited', val: { tag: 'accept', val: '{oops' } } },
      { tag: 'err', val: { tag: 'limit-exceeded', val: 'max_client_requests (2) reached' } },
      { tag: 'ok', val: { tag: 'roots', val: [] } },
      { tag: 'ok', val: { tag: 'roots', val: [] } }, // not what a sample request gets
    ],
  });
  const [denied, notJson, limited, none, odd] = await makeClient(imports).askAll([
    ['a', ClientRequest.sample('x')],
    ['b', ClientRequest.elicit('Who?', { type: 'object' })],
    ['c', ClientRequest.listRoots()],
    ['d', ClientRequest.listRoots()],
    ['e', ClientRequest.sample('x')],
  ]);
  for (const e of [denied, notJson, limited, odd]) assert.ok(e instanceof ClientError);
  assert.deepEqual([denied.kind, denied.message, denied.request], ['denied', 'sampling is not granted', 'a']);
  assert.deepEqual([notJson.kind, notJson.request], ['failed', 'b']);
  assert.match(notJson.message, /not valid JSON/);
  assert.deepEqual([limited.kind, limited.request], ['limit_exceeded', 'c']);
  assert.deepEqual(none, []);
  assert.deepEqual([odd.kind, odd.request], ['failed', 'e']);

  const outside = await makeClient().askAll([['x', ClientRequest.listRoots()], ['y', ClientRequest.sample('hi')]]);
  assert.deepEqual(outside.map((e) => [e instanceof ClientError, e.kind, e.request]), [[true, 'unsupported', 'x'], [true, 'unsupported', 'y']]);
});

test('askAll() refuses malformed batches, and ClientRequest malformed requests, before asking', async () => {
  const { calls, imports } = fakeClient({ ask: [] });
  const client = makeClient(imports);
  const roots = ClientRequest.listRoots();
  for (const batch of [roots, [roots], [['k']], [[1, roots]], [['k', roots, 'x']], [['k', { tag: 'list-roots' }]], [['k', 'sample']]]) {
    await assert.rejects(client.askAll(batch), TypeError);
  }
  assert.throws(() => ClientRequest.sample([]), /prompt string or a non-empty array/);
  assert.throws(() => ClientRequest.sample('x', { maxTokens: 0 }), /maxTokens/);
  assert.throws(() => ClientRequest.elicit('Who?', { type: 'string' }), /^TypeError: elicit: schema must be/);
  assert.throws(() => ClientRequest.elicitUrl('Sign in', 3), /elicitUrl: url must be a string/);
  assert.deepEqual(calls, []);
  assert.equal(roots.kind, 'listRoots');
  assert.ok(Object.isFrozen(roots) && Object.isFrozen(ClientRequest));
});

test('an askAll refusal thrown in a handler fails the call with its key', async () => {
  const { imports } = fakeClient({
    ask: [
      { tag: 'ok', val: { tag: 'roots', val: [{ uri: 'file:///w', name: 'w' }] } },
      { tag: 'err', val: { tag: 'unsupported', val: 'the client did not declare sampling' } },
    ],
  });
  const p = exportTools(
    [tool({ name: 'both', description: 'd' }, async (args, { client }) => {
      const answers = await client.askAll([['roots', ClientRequest.listRoots()], ['summary', ClientRequest.sample('hi')]]);
      for (const a of answers) if (a instanceof ClientError) throw a;
      return 'unreachable';
    })],
    { log: () => {}, client: imports },
  );
  assert.deepEqual(await p.callTool('both', '{}'), { tag: 'err', val: { tag: 'failed', val: 'summary: unsupported: the client did not declare sampling' } });
});
