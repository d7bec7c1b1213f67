// The markdown plugin's tools: plain functions with their schemas beside
// them. Only the core SDK is imported here, so plain node can test these;
// app.js supplies the HTTP transport built on the component's imports.

import { tool, output, InvalidArguments } from '../sdk-js/warden.js';
import { outline, outlineText, linkReport } from './markdown.js';
import { regexTest } from './regex.js';
import { checkUrls, NOT_ALLOWED } from './check.js';

const READ_ONLY = { readOnly: true, destructive: false, idempotent: true, openWorld: false };

const markdownArg = { type: 'string', description: 'The Markdown text.' };

const headingNode = {
  type: 'object',
  properties: {
    level: { type: 'integer', minimum: 1, maximum: 6 },
    text: { type: 'string', description: 'The title as plain text.' },
    raw: { type: 'string', description: 'The title as written, when it has Markdown syntax.' },
    line: { type: 'integer', description: 'Line number, 1-based.' },
    anchor: { type: 'string', description: 'GitHub-style anchor (#anchor).' },
    children: { type: 'array', items: { $ref: '#/$defs/heading' } },
  },
  required: ['level', 'text', 'line', 'anchor', 'children'],
};

export const outlineTool = tool(
  {
    name: 'outline',
    title: 'Markdown outline',
    description:
      'The heading tree of a Markdown document: each heading with its level, line number and anchor, ' +
      'nested under the nearest heading above it of a lower level. ATX (#) and setext (===, ---) headings; ' +
      'code blocks, front matter and HTML comments are skipped. Also warns about skipped levels and several level-1 headings.',
    inputSchema: {
      type: 'object',
      properties: {
        markdown: markdownArg,
        max_level: { type: 'integer', minimum: 1, maximum: 6, default: 6, description: 'Deepest heading level to include (1-6).' },
      },
      required: ['markdown'],
      additionalProperties: false,
    },
    outputSchema: {
      type: 'object',
      $defs: { heading: headingNode },
      properties: {
        outline: { type: 'array', items: { $ref: '#/$defs/heading' } },
        count: { type: 'integer' },
        warnings: { type: 'array', items: { type: 'string' } },
      },
      required: ['outline', 'count', 'warnings'],
    },
    annotations: READ_ONLY,
  },
  ({ markdown, max_level }) => {
    const { tree, headings, warnings } = outline(markdown, { maxLevel: max_level });
    let text = headings.length ? outlineText(tree) : 'No headings.\n';
    if (warnings.length) text += `\nWarnings:\n${warnings.map((w) => `- ${w}`).join('\n')}\n`;
    return output({ text, structured: { outline: tree, count: headings.length, warnings } });
  },
);

export const linksTool = tool(
  {
    name: 'links',
    title: 'Markdown links',
    description:
      'Every link and image of a Markdown document with its line and column: inline, reference, autolinks, ' +
      'bare URLs and HTML <a>/<img>. Flags each as absolute, relative, protocol-relative or fragment (#anchor), ' +
      'and reports duplicate URLs, undefined references, unused definitions and #anchors that match no heading. ' +
      'With base_url, relative links are resolved against it. Code blocks and code spans are skipped.',
    inputSchema: {
      type: 'object',
      properties: {
        markdown: markdownArg,
        base_url: { type: 'string', description: 'Absolute URL the document is published at, to resolve relative links.' },
        kind: { type: 'string', enum: ['all', 'links', 'images'], default: 'all', description: 'Which to list.' },
      },
      required: ['markdown'],
      additionalProperties: false,
    },
    annotations: READ_ONLY,
  },
  ({ markdown, base_url, kind }) => {
    let report;
    try {
      report = linkReport(markdown, { baseUrl: base_url });
    } catch (e) {
      if (e instanceof RangeError) throw new InvalidArguments(e.message);
      throw e;
    }
    if (kind !== 'all') report.links = report.links.filter((l) => (kind === 'images' ? l.kind === 'image' : l.kind === 'link'));
    return output({ text: linksText(report), structured: report });
  },
);

function linksText(report) {
  const s = report.summary;
  const lines = [
    `${s.total} found (${s.links} links, ${s.images} images): ${s.absolute} absolute, ${s.relative} relative, ${s.fragment} fragment; ` +
      `${s.unique_urls} unique URLs, ${report.duplicates.length} duplicated`,
  ];
  for (const l of report.links) {
    const label = l.text ? `  "${l.text}"` : '';
    const resolved = l.resolved ? `  -> ${l.resolved}` : '';
    lines.push(`line ${l.line}:${l.column}  ${l.kind}  ${l.target}  ${l.url}${resolved}${label}`);
  }
  const section = (title, items, fmt) => {
    if (items.length) lines.push('', `${title}:`, ...items.map((x) => `- ${fmt(x)}`));
  };
  section('Duplicates', report.duplicates, (d) => `${d.url} x${d.count} (lines ${d.lines.join(', ')})`);
  section('Undefined references', report.undefined_references, (r) => `[${r.label}] line ${r.line}`);
  section('Unused definitions', report.unused_definitions, (d) => `[${d.label}]: ${d.url} (line ${d.line})`);
  section('Anchors matching no heading', report.missing_anchors, (a) => `${a.url} (line ${a.line})`);
  return `${lines.join('\n')}\n`;
}

export const regexTool = tool(
  {
    name: 'regex_test',
    title: 'Test a regular expression',
    description:
      'Runs a JavaScript regular expression over a text and lists every match with its position ' +
      '(UTF-16 index, line and column) and its capture groups (numbered and named, with positions). ' +
      'All matches are listed (the g flag is implied), up to max_matches. Uses the JavaScript engine\'s RegExp, ' +
      'so a pattern that backtracks catastrophically runs until the call\'s time limit stops it.',
    inputSchema: {
      type: 'object',
      properties: {
        pattern: { type: 'string', description: 'The regular expression, without slashes.' },
        flags: { type: 'string', pattern: '^[dgimsuvy]*$', default: '', description: 'RegExp flags, e.g. "i" or "mu".' },
        text: { type: 'string', description: 'The text to search.' },
        max_matches: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Most matches to list.' },
      },
      required: ['pattern', 'text'],
      additionalProperties: false,
    },
    annotations: READ_ONLY,
  },
  ({ pattern, flags, text, max_matches }) => {
    let result;
    try {
      result = regexTest(pattern, flags, text, { maxMatches: max_matches });
    } catch (e) {
      if (e instanceof RangeError) throw new InvalidArguments(e.message);
      throw e;
    }
    const lines = [
      `${result.count}${result.truncated ? '+' : ''} match${result.count === 1 ? '' : 'es'} of /${pattern}/${result.flags}` +
        (result.truncated ? ` (stopped at max_matches = ${max_matches})` : ''),
    ];
    result.matches.forEach((m, i) => {
      const groups = m.groups.map((g) => `${g.name ?? g.group}=${g.value === null ? 'unset' : JSON.stringify(g.value)}`).join(' ');
      lines.push(`#${i + 1} line ${m.line}:${m.column} [${m.index}, ${m.end}) ${JSON.stringify(m.match)}${groups ? `  ${groups}` : ''}`);
    });
    return output({ text: `${lines.join('\n')}\n`, structured: result });
  },
);

/** check_links with `transport()` making the HTTP transport (see check.js). */
export function checkLinksTool(transport) {
  return tool(
    {
      name: 'check_links',
      title: 'Check links',
      description:
        'Requests each http(s) link of a Markdown text (or each URL of a list) and reports its status: ok (2xx), ' +
        'broken (4xx/5xx), not-allowed (the origin is not among this plugin\'s HTTP grants, so the host refused ' +
        'the request), error (DNS, connection, TLS) or timeout. Uses HEAD (GET when HEAD is refused) and follows ' +
        'redirects; checks at most max_links distinct URLs, 4 at a time, within about 20 seconds in all. ' +
        'Relative links are checked only when base_url is given.',
      inputSchema: {
        type: 'object',
        properties: {
          markdown: { type: 'string', description: 'Markdown text whose http(s) links to check.' },
          urls: { type: 'array', items: { type: 'string' }, maxItems: 200, description: 'URLs to check (instead of, or besides, markdown).' },
          base_url: { type: 'string', description: 'Absolute URL to resolve the Markdown\'s relative links against.' },
          max_links: { type: 'integer', minimum: 1, maximum: 50, default: 10, description: 'Most distinct URLs to request (each may take several requests: redirects, a GET retry). The host allows 16 requests per call unless the manifest or operator sets http_max_requests.' },
          timeout_ms: { type: 'integer', minimum: 100, maximum: 15000, default: 5000, description: 'Time allowed for each request.' },
          method: { type: 'string', enum: ['HEAD', 'GET'], default: 'HEAD', description: 'HTTP method to use first.' },
        },
        additionalProperties: false,
      },
      annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: true },
    },
    (args, ctx) => {
      if (args.markdown === undefined && args.urls === undefined) {
        throw new InvalidArguments('give markdown, urls, or both');
      }
      const { targets, skipped } = collectTargets(args);
      const checked = targets.slice(0, args.max_links);
      const results = checkUrls(
        checked.map((t) => t.url),
        { transport: transport(), timeoutMs: args.timeout_ms, method: args.method },
      );
      const links = results.map((r, i) => withLines(r, checked[i]));
      for (const t of targets.slice(args.max_links)) {
        links.push(withLines({ url: t.url, result: 'not-checked', message: `not checked: more than max_links (${args.max_links}) URLs` }, t));
      }
      links.push(...skipped);
      const summary = { ok: 0, broken: 0, 'not-allowed': 0, error: 0, timeout: 0, 'not-checked': 0, skipped: 0 };
      for (const l of links) summary[l.result] = (summary[l.result] || 0) + 1;
      ctx.progress(checked.length, checked.length, 'links checked');
      return output({ text: checkText(links, summary), structured: { summary, links } });
    },
  );
}

/** The distinct http(s) URLs to request (without #fragment), with where they appear. */
function collectTargets({ markdown, urls = [], base_url }) {
  const byUrl = new Map();
  const skipped = [];
  const addTarget = (raw, line) => {
    let url;
    try {
      url = new URL(raw);
    } catch {
      skipped.push({ url: raw, result: 'skipped', message: 'not an absolute URL', ...(line ? { lines: [line] } : {}) });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      skipped.push({ url: raw, result: 'skipped', message: `only http and https links are checked (${url.protocol})`, ...(line ? { lines: [line] } : {}) });
      return;
    }
    url.hash = '';
    const key = url.href;
    if (!byUrl.has(key)) byUrl.set(key, { url: key, lines: [] });
    if (line) byUrl.get(key).lines.push(line);
  };
  if (markdown !== undefined) {
    let report;
    try {
      report = linkReport(markdown, { baseUrl: base_url });
    } catch (e) {
      if (e instanceof RangeError) throw new InvalidArguments(e.message);
      throw e;
    }
    for (const l of report.links) {
      const target = l.resolved ?? l.url;
      if (/^https?:/i.test(target)) addTarget(target, l.line);
    }
  }
  for (const u of urls) addTarget(u, undefined);
  return { targets: [...byUrl.values()], skipped };
}

function withLines(result, target) {
  return target && target.lines.length ? { ...result, lines: target.lines } : result;
}

function checkText(links, summary) {
  const counts = Object.entries(summary)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const lines = [`${links.length} URL${links.length === 1 ? '' : 's'}: ${counts || 'none'}`];
  for (const l of links) {
    const where = l.lines ? ` (line ${l.lines.join(', ')})` : '';
    lines.push(`${l.result.toUpperCase().padEnd(11)} ${l.url}${where}: ${l.message}`);
  }
  if (summary['not-allowed']) {
    lines.push('', `"${NOT_ALLOWED}": the operator has not granted this plugin those origins (capabilities.http in its manifest, [plugins.markdown] in warden.toml).`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every tool of the plugin. */
export function markdownTools({ transport }) {
  return [outlineTool, linksTool, checkLinksTool(transport), regexTool];
}
