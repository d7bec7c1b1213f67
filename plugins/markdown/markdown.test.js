// Unit tests of the markdown plugin's logic: node --test plugins/markdown
import test from 'node:test';
import assert from 'node:assert/strict';

import { exportTools } from '../sdk-js/warden.js';
import { outline, headings, linkReport, makeSlugger } from './markdown.js';
import { regexTest } from './regex.js';
import { checkUrls, NOT_ALLOWED } from './check.js';
import { markdownTools } from './tools.js';

const DOC = `---
title: front matter # not a heading
---
# Guide

Intro with [a link](https://example.com/a "Title") and ![logo](./img/logo.png).
Bare https://example.org/path). Reference [docs][d] and [Shortcut], [missing][nope].

Setup
=====

\`\`\`sh
# not a heading [no](https://code.example)
\`\`\`

## Install *now* ##
    # indented code [no](https://indented.example)

#### Deep
See [up](#guide), [bad](#nowhere), [again](https://example.com/a), \`[no](https://span.example)\`.
[![badge](https://img.example/b.svg)](https://ci.example/)
<a href="https://html.example/">HTML</a> <https://auto.example/x>

- item with [list link](../other.md)

      indented list continuation [kept](https://list.example)

[d]: https://docs.example/
[shortcut]: <https://short.example/> 'Short'
[unused]: https://unused.example/
`;

test('outline: ATX and setext headings with lines, anchors and nesting', () => {
  const { tree, headings: flat, warnings } = outline(DOC);
  assert.deepEqual(
    flat.map((h) => [h.level, h.text, h.line, h.anchor]),
    [
      [1, 'Guide', 4, 'guide'],
      [1, 'Setup', 9, 'setup'],
      [2, 'Install now', 16, 'install-now'],
      [4, 'Deep', 19, 'deep'],
    ],
  );
  assert.equal(flat[2].raw, 'Install *now*');
  assert.equal(tree.length, 2);
  assert.equal(tree[1].children[0].children[0].text, 'Deep');
  assert.deepEqual(warnings, ['line 19: heading level jumps from 2 to 4', '2 level-1 headings (a document usually has one)']);
  assert.equal(outline(DOC, { maxLevel: 1 }).headings.length, 2);
});

test('headings: closing hashes, empty headings, not-headings', () => {
  const md = '#NoSpace\n# Title #\n#\n  ### Indented ok\n    # code\n\\# escaped\n# a # b\n- item\n---\n';
  assert.deepEqual(
    headings(md).map((h) => [h.level, h.text]),
    [
      [1, 'Title'],
      [1, ''],
      [3, 'Indented ok'],
      [1, 'a # b'],
    ],
  );
});

test('anchors follow GitHub: punctuation dropped, duplicates numbered', () => {
  const slug = makeSlugger();
  assert.deepEqual(
    ['Hello, World!', 'Hello World', 'hello world', 'C++ & Rust — “quotes”', 'Ünïcödé 日本語', 'foo-1', 'foo', 'foo'].map(slug),
    ['hello-world', 'hello-world-1', 'hello-world-2', 'c--rust--quotes', 'ünïcödé-日本語', 'foo-1', 'foo', 'foo-2'],
  );
});

test('links: every kind, with lines, columns and targets', () => {
  const r = linkReport(DOC);
  const seen = r.links.map((l) => `${l.line}:${l.kind}:${l.syntax}:${l.target}:${l.url}`);
  assert.deepEqual(seen, [
    '6:link:inline:absolute:https://example.com/a',
    '6:image:inline:relative:./img/logo.png',
    '7:link:bare:absolute:https://example.org/path',
    '7:link:reference:absolute:https://docs.example/',
    '7:link:reference:absolute:https://short.example/',
    '20:link:inline:fragment:#guide',
    '20:link:inline:fragment:#nowhere',
    '20:link:inline:absolute:https://example.com/a',
    '21:link:inline:absolute:https://ci.example/',
    '21:image:inline:absolute:https://img.example/b.svg',
    '22:link:html:absolute:https://html.example/',
    '22:link:autolink:absolute:https://auto.example/x',
    '24:link:inline:relative:../other.md',
    '26:link:inline:absolute:https://list.example',
  ]);
  assert.equal(r.links[0].title, 'Title');
  assert.equal(r.links[0].column, 12);
  assert.equal(r.links[4].title, 'Short');
  assert.deepEqual(r.duplicates, [{ url: 'https://example.com/a', count: 2, lines: [6, 20] }]);
  assert.deepEqual(r.undefined_references, [{ label: 'nope', line: 7, column: 69 }]);
  assert.deepEqual(r.unused_definitions, [{ label: 'unused', url: 'https://unused.example/', line: 30 }]);
  assert.deepEqual(r.missing_anchors, [{ url: '#nowhere', line: 20 }]);
  assert.equal(r.summary.total, 14);
  assert.equal(r.summary.images, 2);
});

test('links: base_url resolves relative links; parentheses in URLs', () => {
  const r = linkReport('[w](https://en.wikipedia.org/wiki/Foo_(bar)) [r](docs/a.md) [p](//cdn.example/x)', { baseUrl: 'https://site.example/guide/' });
  assert.deepEqual(r.links.map((l) => [l.url, l.target, l.resolved]), [
    ['https://en.wikipedia.org/wiki/Foo_(bar)', 'absolute', undefined],
    ['docs/a.md', 'relative', 'https://site.example/guide/docs/a.md'],
    ['//cdn.example/x', 'protocol-relative', 'https://cdn.example/x'],
  ]);
  assert.throws(() => linkReport('x', { baseUrl: 'not a url' }), RangeError);
});

test('regex_test: matches, groups, named groups, positions', () => {
  const r = regexTest('(?<word>\\w+)@(\\w+)', 'i', 'mail: ann@example\nbob@test and x@y');
  assert.equal(r.count, 3);
  assert.equal(r.flags, 'idg');
  assert.deepEqual(r.matches[1], {
    match: 'bob@test',
    index: 18,
    end: 26,
    line: 2,
    column: 1,
    groups: [
      { group: 1, name: 'word', value: 'bob', index: 18, end: 21 },
      { group: 2, value: 'test', index: 22, end: 26 },
    ],
  });
});

test('regex_test: optional groups, empty matches, limits, bad input', () => {
  const r = regexTest('a(b)?', '', 'a ab');
  assert.deepEqual(r.matches[0].groups, [{ group: 1, value: null }]);
  const empty = regexTest('x*', '', 'ab');
  assert.equal(empty.count, 3);
  const many = regexTest('.', 's', 'abcdef', { maxMatches: 4 });
  assert.equal(many.count, 4);
  assert.equal(many.truncated, true);
  assert.equal(regexTest('z', '', 'abc').matched, false);
  assert.throws(() => regexTest('(', '', 'x'), /invalid regular expression/);
  assert.throws(() => regexTest('a', 'gg', 'x'), /invalid flags/);
  assert.throws(() => regexTest('a', 'uv', 'x'), /cannot be combined/);
});

/** A fake transport: `answers` maps URL -> list of outcomes, one per request. */
function fakeTransport(answers, { delays = {} } = {}) {
  let clock = 0;
  const sent = [];
  return {
    sent,
    now: () => clock,
    send(url, method) {
      sent.push(`${method} ${url}`);
      const queue = answers[url] || [{ error: 'connection-refused' }];
      const outcome = queue.length > 1 ? queue.shift() : queue[0];
      const readyAt = clock + (delays[url] ?? 1);
      return { pollable: {}, result: () => (clock >= readyAt ? outcome : undefined), close() {} };
    },
    wait(pending, ms) {
      clock += Math.min(ms, 1);
    },
  };
}

test('check: statuses, refusals, redirects, HEAD fallback, timeouts', () => {
  const transport = fakeTransport(
    {
      'https://ok.example/': [{ status: 200 }],
      'https://gone.example/': [{ status: 404 }],
      'https://denied.example/': [{ error: 'HTTP-request-denied' }],
      'https://moved.example/': [{ status: 301, location: '/new' }],
      'https://moved.example/new': [{ status: 200 }],
      'https://away.example/': [{ status: 302, location: 'https://elsewhere.example/' }],
      'https://elsewhere.example/': [{ error: 'HTTP-request-denied' }],
      'https://nohead.example/': [{ status: 405 }, { status: 200 }],
      'https://slow.example/': [{ status: 200 }],
      'https://dns.example/': [{ error: 'DNS-error', detail: { rcode: 'NXDOMAIN' } }],
    },
    { delays: { 'https://slow.example/': 10_000 } },
  );
  const urls = ['https://ok.example/', 'https://gone.example/', 'https://denied.example/', 'https://moved.example/', 'https://away.example/', 'https://nohead.example/', 'https://slow.example/', 'https://dns.example/'];
  const r = checkUrls(urls, { transport, timeoutMs: 50, budgetMs: 1000 });
  const by = Object.fromEntries(r.map((x) => [x.url, x]));
  assert.equal(by['https://ok.example/'].result, 'ok');
  assert.equal(by['https://gone.example/'].result, 'broken');
  assert.equal(by['https://gone.example/'].status, 404);
  assert.equal(by['https://denied.example/'].result, 'not-allowed');
  assert.equal(by['https://denied.example/'].message, NOT_ALLOWED);
  assert.equal(by['https://moved.example/'].result, 'ok');
  assert.equal(by['https://moved.example/'].final_url, 'https://moved.example/new');
  assert.deepEqual(by['https://moved.example/'].redirects, [{ status: 301, location: 'https://moved.example/new' }]);
  assert.equal(by['https://away.example/'].result, 'not-allowed');
  assert.equal(by['https://away.example/'].message, `redirect to https://elsewhere.example/: ${NOT_ALLOWED}`);
  assert.equal(by['https://nohead.example/'].result, 'ok');
  assert.ok(transport.sent.includes('GET https://nohead.example/'));
  assert.equal(by['https://slow.example/'].result, 'timeout');
  assert.equal(by['https://dns.example/'].message, 'DNS lookup failed (NXDOMAIN)');
  assert.deepEqual(r.map((x) => x.url), urls, 'results keep the input order');
});

test('check: a refusal of an origin reached before is the request limit', () => {
  const answers = {};
  for (let i = 0; i < 5; i++) answers[`https://a.example/${i}`] = [{ status: 200 }];
  answers['https://a.example/4'] = [{ error: 'HTTP-request-denied' }];
  answers['https://b.example/'] = [{ error: 'HTTP-request-denied' }];
  const urls = [...Object.keys(answers)];
  const r = checkUrls(urls, { transport: fakeTransport(answers), requestLimit: 3, concurrency: 2 });
  const by = Object.fromEntries(r.map((x) => [x.url, x]));
  assert.equal(by['https://a.example/4'].result, 'not-checked');
  assert.match(by['https://a.example/4'].message, /limit of requests per call/);
  assert.equal(by['https://b.example/'].result, 'not-allowed');
  assert.match(by['https://b.example/'].message, /^not allowed by this plugin's grants \(or this call reached/);
});

test('check: links past the time budget are reported, not dropped', () => {
  const transport = fakeTransport({}, { delays: { 'https://a.example/': 100, 'https://b.example/': 100 } });
  const r = checkUrls(['https://a.example/', 'https://b.example/', 'https://c.example/'], { transport, concurrency: 1, timeoutMs: 1000, budgetMs: 50 });
  assert.deepEqual(r.map((x) => x.result), ['timeout', 'not-checked', 'not-checked']);
});

test('the tools through the SDK: check_links collects, dedupes and skips', async () => {
  const transport = fakeTransport({ 'https://example.com/a': [{ status: 200 }], 'https://ci.example/': [{ status: 500 }] });
  const tools = exportTools(markdownTools({ transport: () => transport }), { log: () => {} });
  assert.deepEqual(tools.listTools().map((t) => t.name), ['outline', 'links', 'check_links', 'regex_test']);
  const r = await tools.callTool('check_links', JSON.stringify({ markdown: DOC, urls: ['mailto:x@y.z', 'https://ci.example/#frag'], max_links: 3 }));
  assert.equal(r.tag, 'ok');
  const { summary, links } = JSON.parse(r.val.structured);
  assert.equal(links[0].url, 'https://example.com/a');
  assert.deepEqual(links[0].lines, [6, 20]);
  assert.equal(links[0].result, 'ok');
  assert.equal(summary.skipped, 1);
  assert.ok(summary['not-checked'] > 0);
  assert.ok(!transport.sent.some((s) => s.includes('#')), 'fragments are not sent');
  const none = await tools.callTool('check_links', '{}');
  assert.deepEqual(none.val, { tag: 'invalid-arguments', val: 'give markdown, urls, or both' });
  const bad = await tools.callTool('regex_test', JSON.stringify({ pattern: '(', text: 'x' }));
  assert.equal(bad.val.tag, 'invalid-arguments');
  const o = await tools.callTool('outline', JSON.stringify({ markdown: DOC }));
  assert.equal(JSON.parse(o.val.structured).count, 4);
  assert.match(o.val.content[0].val, /- # Guide {2}\(line 4, #guide\)/);
});
