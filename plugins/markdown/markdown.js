// Markdown scanning for the `markdown` plugin: headings and links, with line
// numbers. Pure functions, no imports: plain node can test them.
//
// This is a line scanner that follows CommonMark where it matters for an
// outline and a link list (ATX and setext headings, fenced and indented code,
// code spans, front matter, HTML comments, inline/reference/auto links and
// GFM bare URLs); it is not a full CommonMark parser.

// Regular expressions are costly in the engine componentize-js embeds (an
// interpreter: each match costs about as much as a hundred-character loop),
// so the per-line code below looks at the first character before trying one.

/** Index of the first character after up to `max` leading spaces. */
function indentOf(line, max = 3) {
  let i = 0;
  while (i < line.length && i <= max && line[i] === ' ') i++;
  return i;
}

function isBlank(line) {
  return line.trim() === '';
}

/** Splits text into lines and marks which ones are code, front matter or comments. */
export function scanLines(markdown) {
  const lines = markdown.split('\n');
  for (let j = 0; j < lines.length; j++) {
    if (lines[j].endsWith('\r')) lines[j] = lines[j].slice(0, -1);
  }
  if (markdown.includes('\r') && lines.some((l) => l.includes('\r'))) {
    // Old Mac line ends (CR alone).
    lines.splice(0, lines.length, ...lines.flatMap((l) => l.split('\r')));
  }
  const kinds = new Array(lines.length).fill('text');
  let i = 0;
  // YAML front matter: "---" on the first line up to "---" or "...".
  if (lines[0] !== undefined && lines[0].trimEnd() === '---') {
    const end = lines.findIndex((l, j) => j > 0 && (l.trimEnd() === '---' || l.trimEnd() === '...'));
    if (end > 0) {
      for (let j = 0; j <= end; j++) kinds[j] = 'front-matter';
      i = end + 1;
    }
  }
  let fence = null; // { char, length }
  let comment = false;
  let paragraph = false; // the previous line is paragraph text
  let list = false; // inside a list, where indented lines are list content
  for (; i < lines.length; i++) {
    const line = lines[i];
    const at = indentOf(line);
    const first = line[at];
    if (fence) {
      kinds[i] = 'code';
      if (first === fence.char) {
        const close = line.match(/^ {0,3}(`{3,}|~{3,})[ \t]*$/);
        if (close && close[1][0] === fence.char && close[1].length >= fence.length) fence = null;
      }
      continue;
    }
    if (comment) {
      kinds[i] = 'comment';
      if (line.includes('-->')) comment = false;
      continue;
    }
    if ((first === '`' || first === '~') && at <= 3) {
      const open = line.match(/^ {0,3}(`{3,}|~{3,})(.*)$/);
      if (open && !(open[1][0] === '`' && open[2].includes('`'))) {
        fence = { char: open[1][0], length: open[1].length };
        kinds[i] = 'code';
        paragraph = false;
        continue;
      }
    }
    if (isBlank(line)) {
      kinds[i] = 'blank';
      paragraph = false;
      continue;
    }
    const indented = at > 3 || line[0] === '\t' || line.startsWith(' '.repeat(at) + '\t');
    // An indented line is code unless it continues a paragraph or a list item.
    if (indented && !paragraph && !list) {
      kinds[i] = 'code';
      continue;
    }
    if (first === '<' && line.startsWith('<!--', at) && !line.includes('-->', at + 4)) {
      kinds[i] = 'comment';
      comment = true;
      paragraph = false;
      continue;
    }
    if (!indented && isListMarker(line, at)) list = true;
    else if (!indented && !paragraph) list = false;
    paragraph = !(first === '#' || first === '-' || first === '*' || first === '_') || !/^ {0,3}(#{1,6}([ \t]|$)|([-*_])([ \t]*\3){2,}[ \t]*$)/.test(line);
  }
  return { lines, kinds };
}

/** Whether a list item starts at `at`: `-`, `+`, `*` or `1.` / `1)` then a space or the line end. */
function isListMarker(line, at) {
  const c = line[at];
  if (c === '-' || c === '+' || c === '*') return at + 1 >= line.length || line[at + 1] === ' ' || line[at + 1] === '\t';
  if (c >= '0' && c <= '9') return /^ {0,3}\d{1,9}[.)]([ \t]|$)/.test(line);
  return false;
}

/** Markdown inline syntax to plain text (for heading titles and anchors). */
export function plainText(inline) {
  if (!/[!\[<`*_~\\]/.test(inline)) return inline.replace(/\s+/g, ' ').trim();
  return inline
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\[[^\]]*\]/g, '$1')
    .replace(/<\/?[a-zA-Z][^>]*>/g, '')
    .replace(/(`+)(.*?)\1/g, '$2')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(\*|_)(.+?)\1/g, '$2')
    .replace(/~~(.+?)~~/g, '$1')
    .replace(/\\([!-/:-@[-`{-~])/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
}

/** GitHub-style heading anchors ("Hello, World!" -> "hello-world"), unique per document. */
export function makeSlugger() {
  const occurrences = new Map(); // as github-slugger does it
  return (text) => {
    const base = [...text.toLowerCase()]
      .filter(keptInAnchor)
      .join('')
      .replace(/ /g, '-');
    let slug = base;
    while (occurrences.has(slug)) {
      const n = occurrences.get(base) + 1;
      occurrences.set(base, n);
      slug = `${base}-${n}`;
    }
    occurrences.set(slug, 0);
    return slug;
  };
}

/**
 * Whether GitHub keeps a character in an anchor: letters, marks, digits, `_`,
 * `-` and spaces; punctuation and symbols go. (The engine componentize-js
 * embeds has no Unicode property escapes, so non-ASCII punctuation and
 * symbols are listed by block.)
 */
function keptInAnchor(c) {
  const code = c.codePointAt(0);
  if ((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || c === '_' || c === ' ' || c === '-') return true;
  if (code < 0xc0) return false; // the rest of ASCII, Latin-1 punctuation
  if (code === 0xd7 || code === 0xf7) return false; // multiplication and division signs
  const blocks = [
    [0x2000, 0x2bff], // general punctuation, symbols, arrows, math, box drawing, shapes
    [0x2e00, 0x2e7f], // supplemental punctuation
    [0x3000, 0x303f], // CJK symbols and punctuation
    [0xfe30, 0xfe4f], // CJK compatibility forms
    [0xff00, 0xff0f], [0xff1a, 0xff20], [0xff3b, 0xff40], [0xff5b, 0xff65], // fullwidth punctuation
    [0x1f000, 0x1faff], // emoji and pictographs
  ];
  return !blocks.some(([lo, hi]) => code >= lo && code <= hi);
}

/**
 * Headings in document order: { level, text, line, anchor, raw? }. `raw`
 * (the Markdown source of the title) is given when it differs from `text`.
 */
export function headings(markdown) {
  const { lines, kinds } = scanLines(markdown);
  const slug = makeSlugger();
  const found = [];
  let paragraph = []; // indexes of the current paragraph's lines
  const push = (level, raw, line) => {
    const text = plainText(raw);
    const heading = { level, text, line: line + 1, anchor: slug(text) };
    if (raw.trim() !== text) heading.raw = raw.trim();
    found.push(heading);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (kinds[i] !== 'text') {
      paragraph = [];
      continue;
    }
    const at = indentOf(line);
    const first = line[at];
    const atx = first === '#' && line.match(/^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/);
    if (atx) {
      const content = (atx[2] || '').replace(/(^|[ \t]+)#+[ \t]*$/, '').trim();
      push(atx[1].length, content, i);
      paragraph = [];
      continue;
    }
    const underline = (first === '=' || first === '-') && paragraph.length > 0 && line.match(/^ {0,3}(=+|-+)[ \t]*$/);
    if (underline) {
      const raw = paragraph.map((j) => lines[j].trim()).join(' ');
      push(underline[1][0] === '=' ? 1 : 2, raw, paragraph[0]);
      paragraph = [];
      continue;
    }
    if (at <= 3 && '>-+*_0123456789<|'.includes(first) && startsOtherBlock(line)) {
      paragraph = [];
      continue;
    }
    paragraph.push(i);
  }
  return found;
}

/** A line that starts a block other than a paragraph (so cannot be a setext title). */
function startsOtherBlock(line) {
  return (
    /^ {0,3}(>|[-+*][ \t]|\d{1,9}[.)][ \t]|<[a-zA-Z/!?]|\|)/.test(line) ||
    /^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$/.test(line) ||
    /^ {0,3}[-+*]$/.test(line)
  );
}

/**
 * The outline: headings nested under the nearest preceding heading of a
 * lower level. Returns { tree, headings, warnings }.
 */
export function outline(markdown, { maxLevel = 6 } = {}) {
  const all = headings(markdown);
  const warnings = [];
  let previous = 0;
  let h1 = 0;
  for (const h of all) {
    if (h.level === 1) h1++;
    if (previous && h.level > previous + 1) {
      warnings.push(`line ${h.line}: heading level jumps from ${previous} to ${h.level}`);
    }
    if (h.text === '') warnings.push(`line ${h.line}: empty heading`);
    previous = h.level;
  }
  if (h1 > 1) warnings.push(`${h1} level-1 headings (a document usually has one)`);
  const kept = all.filter((h) => h.level <= maxLevel);
  const tree = [];
  const stack = [];
  for (const h of kept) {
    const node = { ...h, children: [] };
    while (stack.length && stack[stack.length - 1].level >= h.level) stack.pop();
    (stack.length ? stack[stack.length - 1].children : tree).push(node);
    stack.push(node);
  }
  return { tree, headings: kept, warnings };
}

/** The outline as an indented Markdown list. */
export function outlineText(tree, depth = 0) {
  let out = '';
  for (const node of tree) {
    out += `${'  '.repeat(depth)}- ${'#'.repeat(node.level)} ${node.text || '(empty)'}  (line ${node.line}, #${node.anchor})\n`;
    out += outlineText(node.children, depth + 1);
  }
  return out;
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]{1,31}):/;

/** Where a link points: absolute (with a scheme), protocol-relative, fragment, or relative. */
export function classify(url) {
  const scheme = url.includes(':') ? url.match(SCHEME) : null;
  if (scheme) return { target: 'absolute', scheme: scheme[1].toLowerCase() };
  if (url.startsWith('//')) return { target: 'protocol-relative' };
  if (url.startsWith('#')) return { target: 'fragment' };
  return { target: 'relative' };
}

function normalizeLabel(label) {
  return label.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Replaces code spans and inline HTML comments by spaces, keeping columns. */
function maskCode(line) {
  if (!line.includes('`') && !line.includes('<!--')) return line;
  let out = line.replace(/<!--.*?-->/g, (m) => ' '.repeat(m.length));
  let result = '';
  let i = 0;
  while (i < out.length) {
    if (out[i] === '\\' && i + 1 < out.length) {
      result += out[i] + out[i + 1];
      i += 2;
      continue;
    }
    if (out[i] === '`') {
      let run = 1;
      while (out[i + run] === '`') run++;
      const ticks = '`'.repeat(run);
      let close = out.indexOf(ticks, i + run);
      while (close !== -1 && out[close + run] === '`') {
        let next = close;
        while (out[next] === '`') next++;
        close = out.indexOf(ticks, next);
      }
      if (close === -1) {
        result += ticks;
        i += run;
        continue;
      }
      result += ' '.repeat(close + run - i);
      i = close + run;
      continue;
    }
    result += out[i++];
  }
  return result;
}

/** Index of the `]` closing the `[` at `open`, or -1. */
function closeBracket(s, open) {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
    } else if (c === '[') {
      depth++;
    } else if (c === ']') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Parses `(dest "title")` starting at `open` (the `(`): { url, title, end } or null. */
function inlineDestination(s, open) {
  let i = open + 1;
  while (s[i] === ' ' || s[i] === '\t') i++;
  let url = '';
  if (s[i] === '<') {
    const close = s.indexOf('>', i + 1);
    if (close === -1) return null;
    url = s.slice(i + 1, close);
    i = close + 1;
  } else {
    let depth = 0;
    const start = i;
    for (; i < s.length; i++) {
      const c = s[i];
      if (c === '\\') {
        i++;
        continue;
      }
      if (c === ' ' || c === '\t') break;
      if (c === '(') depth++;
      if (c === ')') {
        if (depth === 0) break;
        depth--;
      }
    }
    url = s.slice(start, i);
  }
  while (s[i] === ' ' || s[i] === '\t') i++;
  let title;
  if (s[i] === '"' || s[i] === "'" || s[i] === '(') {
    const closer = s[i] === '(' ? ')' : s[i];
    const close = s.indexOf(closer, i + 1);
    if (close === -1) return null;
    title = s.slice(i + 1, close);
    i = close + 1;
    while (s[i] === ' ' || s[i] === '\t') i++;
  }
  if (s[i] !== ')') return null;
  return { url: unescape(url), title, end: i + 1 };
}

function unescape(s) {
  return s.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/** Trims what GFM leaves out of a bare URL: trailing punctuation and unbalanced `)`. */
function trimBareUrl(url) {
  for (;;) {
    const last = url[url.length - 1];
    if ('?!.,:*_~\'";'.includes(last)) {
      url = url.slice(0, -1);
    } else if (last === ')') {
      const open = (url.match(/\(/g) || []).length;
      const close = (url.match(/\)/g) || []).length;
      if (close > open) url = url.slice(0, -1);
      else return url;
    } else {
      return url;
    }
  }
}

/**
 * Every link and image with its line and column (1-based), plus reference
 * definitions. Returns { items, definitions, undefinedReferences }.
 */
export function extractLinks(markdown) {
  const { lines, kinds } = scanLines(markdown);
  const definitions = new Map(); // label -> { url, title, line, used }
  const masked = lines.map((line, i) => (kinds[i] === 'text' ? maskCode(line) : ''));
  // Reference definitions first: they may follow their uses.
  const defLine = /^ {0,3}\[((?:[^\]\\]|\\.){1,999})\]:[ \t]*(<[^>]*>|\S+)(?:[ \t]+("[^"]*"|'[^']*'|\([^)]*\)))?[ \t]*$/;
  for (let i = 0; i < lines.length; i++) {
    if (masked[i][indentOf(masked[i])] !== '[') continue;
    const m = masked[i].match(defLine);
    if (!m) continue;
    const label = normalizeLabel(m[1]);
    let url = m[2];
    if (url.startsWith('<')) url = url.slice(1, -1);
    if (!definitions.has(label)) {
      definitions.set(label, { label: m[1], url: unescape(url), title: m[3] ? m[3].slice(1, -1) : undefined, line: i + 1, used: 0 });
    }
    masked[i] = '';
  }

  const items = [];
  const undefinedReferences = [];
  const add = (item) => {
    Object.assign(item, classify(item.url));
    items.push(item);
  };

  const scan = (s, lineNo, offset) => {
    const taken = new Array(s.length).fill(false);
    const take = (from, to) => {
      for (let k = from; k < to; k++) taken[k] = true;
    };
    let i = 0;
    while (i < s.length) {
      const c = s[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      // Autolinks: <scheme:...> and <user@host>.
      if (c === '<') {
        const auto = s.slice(i).match(/^<([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]*)>/);
        const mail = s.slice(i).match(/^<([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*)>/);
        if (auto || mail) {
          const m = auto || mail;
          add({ kind: 'link', syntax: 'autolink', text: m[1], url: auto ? m[1] : `mailto:${m[1]}`, line: lineNo, column: offset + i + 1 });
          take(i, i + m[0].length);
          i += m[0].length;
          continue;
        }
        // HTML <a href> and <img src>.
        const tag = s.slice(i).match(/^<(a|img)\b[^>]*?\b(href|src)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))[^>]*>/i);
        if (tag) {
          const isImage = tag[1].toLowerCase() === 'img';
          const url = tag[4] ?? tag[5] ?? tag[6];
          let label = '';
          if (isImage) {
            const alt = tag[0].match(/\balt\s*=\s*("([^"]*)"|'([^']*)')/i);
            label = alt ? (alt[2] ?? alt[3]) : '';
          } else {
            const close = s.slice(i + tag[0].length).search(/<\/a\s*>/i);
            if (close !== -1) label = plainText(s.slice(i + tag[0].length, i + tag[0].length + close));
          }
          add({ kind: isImage ? 'image' : 'link', syntax: 'html', text: label, url, line: lineNo, column: offset + i + 1 });
          take(i, i + tag[0].length);
          i += tag[0].length;
          continue;
        }
      }
      const image = c === '!' && s[i + 1] === '[';
      if (c === '[' || image) {
        const open = image ? i + 1 : i;
        const close = closeBracket(s, open);
        if (close === -1) {
          i = open + 1;
          continue;
        }
        const label = s.slice(open + 1, close);
        const kind = image ? 'image' : 'link';
        let item = null;
        let end = close + 1;
        if (s[close + 1] === '(') {
          const dest = inlineDestination(s, close + 1);
          if (dest) {
            item = { kind, syntax: 'inline', text: plainText(label), url: dest.url };
            if (dest.title !== undefined) item.title = dest.title;
            end = dest.end;
          }
        }
        if (!item && s[close + 1] === '[') {
          const refClose = s.indexOf(']', close + 2);
          if (refClose !== -1) {
            const ref = s.slice(close + 2, refClose);
            const key = normalizeLabel(ref === '' ? label : ref);
            end = refClose + 1;
            const def = definitions.get(key);
            if (def) {
              def.used++;
              item = { kind, syntax: 'reference', text: plainText(label), url: def.url, reference: key, definitionLine: def.line };
              if (def.title !== undefined) item.title = def.title;
            } else {
              undefinedReferences.push({ label: ref === '' ? label : ref, line: lineNo, column: offset + i + 1 });
              i = end;
              continue;
            }
          }
        }
        if (!item) {
          const def = definitions.get(normalizeLabel(label));
          if (def && label.trim() !== '') {
            def.used++;
            item = { kind, syntax: 'reference', text: plainText(label), url: def.url, reference: normalizeLabel(label), definitionLine: def.line };
            if (def.title !== undefined) item.title = def.title;
            end = close + 1;
          }
        }
        if (item) {
          item.line = lineNo;
          item.column = offset + i + 1;
          add(item);
          take(i, end);
          // Images inside a link's text ([![badge](img)](url)).
          if (kind === 'link') scanInner(label, lineNo, offset + open + 1);
          i = end;
          continue;
        }
        i = open + 1;
        continue;
      }
      i++;
    }
    // GFM bare URLs, outside what was matched above.
    const lower = s.toLowerCase();
    if (!lower.includes('http') && !lower.includes('www.')) return;
    const bare = /\b(?:https?:\/\/|www\.)[^\s<>]+/gi;
    let m;
    while ((m = bare.exec(s))) {
      if (taken[m.index]) continue;
      const url = trimBareUrl(m[0]);
      if (url.length <= 'https://'.length && !url.startsWith('www.')) continue;
      const href = url.toLowerCase().startsWith('www.') ? `http://${url}` : url;
      add({ kind: 'link', syntax: 'bare', text: url, url: href, line: lineNo, column: offset + m.index + 1 });
    }
  };
  const scanInner = (label, lineNo, offset) => {
    const before = items.length;
    scan(label, lineNo, offset);
    // Keep only images from inside a link's text; a link in a link is not one.
    for (let k = items.length - 1; k >= before; k--) {
      if (items[k].kind !== 'image') items.splice(k, 1);
    }
  };

  for (let i = 0; i < lines.length; i++) {
    if (masked[i]) scan(masked[i], i + 1, 0);
  }
  items.sort((a, b) => a.line - b.line || a.column - b.column);
  return { items, definitions: [...definitions.values()], undefinedReferences };
}

/**
 * The links report: every link and image, duplicates, undefined references,
 * unused definitions and fragment links that match no heading. With
 * `baseUrl`, relative links get a `resolved` absolute URL.
 */
export function linkReport(markdown, { baseUrl } = {}) {
  const { items, definitions, undefinedReferences } = extractLinks(markdown);
  let base;
  if (baseUrl !== undefined) {
    try {
      base = new URL(baseUrl);
    } catch {
      throw new RangeError(`base_url is not an absolute URL: ${baseUrl}`);
    }
  }
  if (base) {
    for (const item of items) {
      if (item.target === 'relative' || item.target === 'protocol-relative') {
        try {
          item.resolved = new URL(item.url, base).href;
        } catch {
          // Left unresolved.
        }
      }
    }
  }
  const byUrl = new Map();
  for (const item of items) {
    const key = item.resolved || item.url;
    if (!byUrl.has(key)) byUrl.set(key, []);
    byUrl.get(key).push(item.line);
  }
  const duplicates = [...byUrl.entries()]
    .filter(([, lines]) => lines.length > 1)
    .map(([url, lines]) => ({ url, count: lines.length, lines }));
  const anchors = items.some((item) => item.target === 'fragment') ? new Set(headings(markdown).map((h) => h.anchor)) : new Set();
  const missingAnchors = items
    .filter((item) => item.target === 'fragment' && item.url.length > 1 && !anchors.has(decodeFragment(item.url.slice(1))))
    .map((item) => ({ url: item.url, line: item.line }));
  const count = (pred) => items.filter(pred).length;
  return {
    summary: {
      total: items.length,
      links: count((x) => x.kind === 'link'),
      images: count((x) => x.kind === 'image'),
      absolute: count((x) => x.target === 'absolute'),
      relative: count((x) => x.target === 'relative' || x.target === 'protocol-relative'),
      fragment: count((x) => x.target === 'fragment'),
      unique_urls: byUrl.size,
    },
    links: items.map(publicItem),
    duplicates,
    undefined_references: undefinedReferences,
    unused_definitions: definitions.filter((d) => d.used === 0).map((d) => ({ label: d.label, url: d.url, line: d.line })),
    missing_anchors: missingAnchors,
  };
}

function decodeFragment(fragment) {
  try {
    return decodeURIComponent(fragment).toLowerCase();
  } catch {
    return fragment.toLowerCase();
  }
}

function publicItem(item) {
  const out = {
    kind: item.kind,
    syntax: item.syntax,
    text: item.text,
    url: item.url,
    target: item.target,
    line: item.line,
    column: item.column,
  };
  if (item.scheme) out.scheme = item.scheme;
  if (item.title !== undefined) out.title = item.title;
  if (item.reference !== undefined) {
    out.reference = item.reference;
    out.definition_line = item.definitionLine;
  }
  if (item.resolved !== undefined) out.resolved = item.resolved;
  return out;
}
