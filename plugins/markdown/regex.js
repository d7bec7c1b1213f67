// regex_test: runs a JavaScript regular expression over a text with the
// engine's own RegExp and lists the matches with their groups and positions.
//
// Nothing here bounds the time one match takes: a pattern that backtracks
// catastrophically (`(a+)+$` against "aaaa...!") keeps the engine busy until
// the host's fuel or deadline limit ends the call. That is intended: the
// sandbox, not the plugin, is what stops it.

const FLAGS = /^[dgimsuvy]*$/;
const MAX_VALUE = 1000;

/**
 * Returns { matched, count, truncated, flags, matches: [{ match, index, end,
 * line, column, groups: [{ group, name?, value, index, end }] }] }.
 * Positions are UTF-16 offsets, as JavaScript counts them; `line` and
 * `column` are 1-based. Throws RangeError for a bad pattern or flags.
 */
export function regexTest(pattern, flags = '', text, { maxMatches = 100 } = {}) {
  if (!FLAGS.test(flags) || new Set(flags).size !== flags.length) {
    throw new RangeError(`invalid flags ${JSON.stringify(flags)}: use each of d, g, i, m, s, u, v, y at most once`);
  }
  if (flags.includes('u') && flags.includes('v')) {
    throw new RangeError('the flags u and v cannot be combined');
  }
  // Every match is listed (g) with group positions (d); sticky (y) is kept.
  let used = flags;
  for (const f of 'dg') if (!used.includes(f)) used += f;
  let re;
  try {
    re = new RegExp(pattern, used);
  } catch (e) {
    throw new RangeError(`invalid regular expression: ${e.message}`);
  }
  const names = groupNames(re, pattern);
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const position = (index) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: index - lineStarts[lo] + 1 };
  };

  const matches = [];
  let truncated = false;
  let m;
  while ((m = re.exec(text)) !== null) {
    if (matches.length >= maxMatches) {
      truncated = true;
      break;
    }
    const groups = [];
    for (let g = 1; g < m.length; g++) {
      const span = m.indices[g];
      const group = { group: g, value: m[g] === undefined ? null : clip(m[g]) };
      if (names[g]) group.name = names[g];
      if (span) {
        group.index = span[0];
        group.end = span[1];
      }
      groups.push(group);
    }
    matches.push({
      match: clip(m[0]),
      index: m.index,
      end: m.index + m[0].length,
      ...position(m.index),
      groups,
    });
    if (m[0] === '') re.lastIndex = advance(text, re.lastIndex, re.unicode || re.unicodeSets);
  }
  return {
    matched: matches.length > 0,
    count: matches.length,
    truncated,
    flags: used,
    matches,
  };
}

/** The names of capture groups by number. */
function groupNames(re, pattern) {
  const names = [];
  // Number the capturing groups in source order: "(" not followed by "?",
  // or followed by "?<name>" (but not "?<=" / "?<!").
  let n = 0;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    if (c !== '(') continue;
    if (pattern[i + 1] !== '?') {
      n++;
      continue;
    }
    const named = pattern.slice(i).match(/^\(\?<([^>=!][^>]*)>/);
    if (named) names[++n] = named[1];
  }
  return names;
}

function advance(text, index, unicode) {
  if (unicode && index < text.length) {
    const code = text.charCodeAt(index);
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) return index + 2;
  }
  return index + 1;
}

function clip(value) {
  return value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}… (${value.length} characters)` : value;
}
