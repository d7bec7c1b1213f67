// Warden JavaScript SDK: the core.
//
// A tool is a plain function plus a schema object beside it:
//
//   export const greet = tool({
//     name: 'greet',
//     description: 'Says hello',
//     inputSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
//     annotations: { readOnly: true },
//   }, ({ name }) => `Hello, ${name}!`);
//
// This module imports nothing from the component world, so plain node can
// load and test it. `component.js` wires it to the `warden:plugin` imports
// (log, progress, client) and is what a plugin's entry file uses.
//
// The `tools` export of the world `warden:plugin/plugin@0.2.0` is, in
// componentize-js terms, an exported object `tools` with `listTools()` and
// `callTool(name, argumentsJson)`. Records are objects with camelCase fields,
// `option<T>` is T or undefined, `u64` is a BigInt, enums are their case
// names as strings, variants are `{ tag, val }`, and a `result` is returned
// as `{ tag: 'ok' | 'err', val }`. `exportTools` builds that object;
// `callTool` never throws (a thrown value that is not an explicit error
// result would trap the component). An imported function's `result` error
// is thrown as a ComponentError whose `payload` is the error variant.

/** The arguments passed the schema but cannot be used. */
export class InvalidArguments extends Error {
  constructor(message) {
    super(message);
    this.name = 'InvalidArguments';
    this.toolError = 'invalid-arguments';
  }
}

/** The tool ran and could not do its job. */
export class ToolFailed extends Error {
  constructor(message) {
    super(message);
    this.name = 'ToolFailed';
    this.toolError = 'failed';
  }
}

/**
 * The host refused or could not complete a request to the MCP client
 * (`sample`, `elicit`, `listRoots`). `kind` is `unsupported` (the client did
 * not declare the feature), `denied` (the plugin was not granted it),
 * `limit_exceeded` (a per-call limit was reached) or `failed`; `request`
 * names the request (`sample`, `elicit`, `list-roots`; for an item of
 * `askAll`, which returns it rather than throwing it, the request's key).
 * Uncaught, it fails the tool call with `REQUEST: KIND: MESSAGE`.
 */
export class ClientError extends Error {
  constructor(kind, message, request) {
    super(message);
    this.name = 'ClientError';
    this.kind = kind;
    this.request = request;
  }
}

const OUTPUT = Symbol.for('warden.output');
const TOOL = Symbol.for('warden.tool');
const REQUEST = Symbol.for('warden.clientRequest');
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const FEATURES = ['sampling', 'elicitation', 'roots'];
const ROLES = ['user', 'assistant'];
const CLIENT_ERRORS = { unsupported: 'unsupported', denied: 'denied', 'limit-exceeded': 'limit_exceeded', failed: 'failed' };
const U32_MAX = 2 ** 32 - 1;

/** A text content block. */
export function text(value) {
  return { tag: 'text', val: String(value) };
}

/** A binary content block (`image/*`, `audio/*`, or any other MIME type). */
export function blob(data, mimeType) {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError('blob data must be a Uint8Array');
  }
  return { tag: 'blob', val: { data, mimeType: String(mimeType) } };
}

/**
 * A link to a resource, returned instead of its contents: `uri` (an http(s)
 * URL, or the URI of one of the plugin's resources, which the host prefixes
 * like them), `name`, and optionally `title`, `description`, `mimeType` and
 * `size` (bytes, a number or BigInt).
 */
export function resourceLink({ uri, name, title, description, mimeType, size } = {}) {
  if (typeof uri !== 'string' || uri === '') throw new TypeError('resourceLink: uri must be a non-empty string');
  if (typeof name !== 'string' || name === '') throw new TypeError('resourceLink: name must be a non-empty string');
  for (const [key, value] of Object.entries({ title, description, mimeType })) {
    if (value !== undefined && typeof value !== 'string') throw new TypeError(`resourceLink: ${key} must be a string`);
  }
  if (size !== undefined && !(typeof size === 'bigint' ? size >= 0n : Number.isSafeInteger(size) && size >= 0)) {
    throw new TypeError('resourceLink: size must be a non-negative integer');
  }
  return {
    tag: 'resource-link',
    val: { uri, name, title, description, mimeType, size: size === undefined ? undefined : BigInt(size) },
  };
}

/**
 * A result with several parts: `text` (a string, shown to the model),
 * `structured` (a plain object, sent as structured content; its JSON is added
 * as text when no other content is given) and `content` (more blocks made
 * with `text()`, `blob()` or `resourceLink()`).
 */
export function output({ text: body, structured, content = [] } = {}) {
  const blocks = [];
  if (body !== undefined) blocks.push(text(body));
  blocks.push(...content);
  if (structured !== undefined && !isPlainObject(structured)) {
    throw new TypeError('structured content must be a plain object');
  }
  return { [OUTPUT]: true, content: blocks, structured };
}

/**
 * Declares one tool. `spec` holds `name`, `description`, and optionally
 * `title`, `inputSchema` (a JSON Schema object; default: no arguments),
 * `outputSchema`, `annotations` (`readOnly`, `destructive`, `idempotent`,
 * `openWorld`) and `requires` (the client features it cannot work without:
 * `sampling`, `elicitation`, `roots`). `handler(args, ctx)` may be async; see
 * `toOutput` for what it may return.
 */
export function tool(spec, handler) {
  if (!spec || typeof spec !== 'object') throw new TypeError('tool(spec, handler): spec must be an object');
  const { name, title, description, inputSchema = { type: 'object', properties: {} }, outputSchema, annotations = {}, requires = [] } = spec;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`tool name ${JSON.stringify(name)} must be 1-64 characters of [a-zA-Z0-9_-]`);
  }
  if (typeof description !== 'string' || description === '') {
    throw new TypeError(`tool ${name}: description must be a non-empty string`);
  }
  if (title !== undefined && typeof title !== 'string') throw new TypeError(`tool ${name}: title must be a string`);
  if (typeof handler !== 'function') throw new TypeError(`tool ${name}: handler must be a function`);
  if (!isPlainObject(inputSchema) || inputSchema.type !== 'object') {
    throw new TypeError(`tool ${name}: inputSchema must be a JSON Schema object with "type": "object"`);
  }
  if (outputSchema !== undefined && (!isPlainObject(outputSchema) || outputSchema.type !== 'object')) {
    throw new TypeError(`tool ${name}: outputSchema must be a JSON Schema object with "type": "object"`);
  }
  const hints = {};
  for (const key of ['readOnly', 'destructive', 'idempotent', 'openWorld']) {
    const value = annotations[key];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new TypeError(`tool ${name}: annotations.${key} must be a boolean`);
    }
    hints[key] = value;
  }
  for (const key of Object.keys(annotations)) {
    if (!(key in hints)) throw new TypeError(`tool ${name}: unknown annotation ${key}`);
  }
  if (!Array.isArray(requires)) throw new TypeError(`tool ${name}: requires must be an array`);
  for (const feature of requires) {
    if (!FEATURES.includes(feature)) {
      throw new TypeError(`tool ${name}: requires ${JSON.stringify(feature)}, not one of ${FEATURES.join(', ')}`);
    }
  }
  const descriptor = {
    name,
    title,
    description,
    inputSchema: JSON.stringify(inputSchema),
    outputSchema: outputSchema === undefined ? undefined : JSON.stringify(outputSchema),
    annotations: hints,
    requires: [...new Set(requires)],
  };
  return Object.freeze({ [TOOL]: true, name, inputSchema, outputSchema, handler, descriptor });
}

/**
 * Builds the object the world exports as `tools`. `imports` are the
 * component's imports as functions: `log(level, message)` from
 * `warden:plugin/log`, `report(progress, total, message)` from
 * `warden:plugin/progress` and `client` (`{ sample, elicit, listRoots, ask }`)
 * from `warden:plugin/client`; without them (in tests) logs go to
 * console.error, progress is dropped and client requests throw ClientError
 * `unsupported`.
 */
export function exportTools(tools, imports = {}) {
  const byName = new Map();
  for (const t of tools) {
    if (!t || !t[TOOL]) throw new TypeError('exportTools: every entry must be made with tool()');
    if (byName.has(t.name)) throw new TypeError(`exportTools: two tools are named ${t.name}`);
    byName.set(t.name, t);
  }
  const log = makeLog(imports.log);
  const progress = makeProgress(imports.report);
  const client = makeClient(imports.client);
  return {
    listTools() {
      return [...byName.values()].map((t) => t.descriptor);
    },
    async callTool(name, argumentsJson) {
      const t = byName.get(name);
      if (!t) return err('unknown-tool', `this plugin has no tool named ${name}`);
      try {
        let args;
        try {
          args = argumentsJson === '' ? {} : JSON.parse(argumentsJson);
        } catch (e) {
          throw new InvalidArguments(`the arguments are not valid JSON: ${e.message}`);
        }
        args = checkArguments(t.inputSchema, args);
        const value = await t.handler(args, { tool: name, log, progress, client });
        return { tag: 'ok', val: toOutput(value, t) };
      } catch (e) {
        const error = toToolError(e);
        if (error.tag === 'failed' && !(e && e.toolError)) {
          // SpiderMonkey's `stack` lists only the frames; node's starts with the message.
          const stack = e && typeof e.stack === 'string' ? e.stack : '';
          log.warn(`${name} failed: ${stack.startsWith(error.val) ? stack : `${error.val}\n${stack}`.trim()}`);
        }
        return { tag: 'err', val: error };
      }
    },
  };
}

/**
 * What a handler's return value becomes: a string is a text block; a plain
 * object is structured content plus its JSON as text; an array, number or
 * boolean is its JSON as text; `undefined` or `null` is an empty result; a
 * value made with `output()` is used as built.
 */
export function toOutput(value, t = {}) {
  if (value && value[OUTPUT]) {
    const content = value.content.slice();
    const structured = value.structured === undefined ? undefined : JSON.stringify(value.structured);
    if (content.length === 0 && structured !== undefined) content.push(text(structured));
    return { content, structured };
  }
  if (value === undefined || value === null) return { content: [], structured: undefined };
  if (typeof value === 'string') return { content: [text(value)], structured: undefined };
  if (isPlainObject(value)) {
    const json = JSON.stringify(value);
    return { content: [text(json)], structured: json };
  }
  if (Array.isArray(value) || typeof value === 'number' || typeof value === 'boolean') {
    if (t.outputSchema !== undefined) {
      throw new ToolFailed(`tool ${t.name} declares an output schema but returned ${describeType(value)}`);
    }
    return { content: [text(JSON.stringify(value))], structured: undefined };
  }
  throw new ToolFailed(`${t.name ? `tool ${t.name}` : 'the tool'} returned ${describeType(value)}, which is not a result`);
}

/** The `tool-error` variant for a thrown value. */
export function toToolError(e) {
  if (e && (e.toolError === 'invalid-arguments' || e.toolError === 'failed')) {
    return { tag: e.toolError, val: String(e.message) };
  }
  let message;
  if (e instanceof ClientError) {
    message = `${e.request}: ${e.kind}: ${e.message}`;
  } else if (e && e.payload && typeof e.payload === 'object' && typeof e.payload.tag === 'string') {
    // An error result of an imported function (componentize-js throws it
    // with the WIT error value as `payload`).
    const { tag, val } = e.payload;
    message = val === undefined || val === null ? tag : `${tag}: ${typeof val === 'string' ? val : safeJson(val)}`;
  } else if (e instanceof Error || (e && typeof e.message === 'string')) {
    message = e.message || e.name || 'error';
    if (e.name && e.name !== 'Error' && !message.startsWith(e.name)) message = `${e.name}: ${message}`;
  } else {
    try {
      message = typeof e === 'string' ? e : JSON.stringify(e) ?? String(e);
    } catch {
      message = String(e);
    }
  }
  return { tag: 'failed', val: message };
}

/**
 * Light argument checks against the schema (the host has already validated
 * them against the full JSON Schema): the arguments are an object, `required`
 * properties are present, top-level properties have their primitive `type`
 * and `enum` value, and no unknown property is passed when
 * `additionalProperties` is false. Missing properties with a `default` get
 * it. Returns the arguments; throws InvalidArguments.
 */
export function checkArguments(schema, args) {
  if (!isPlainObject(args)) throw new InvalidArguments(`the arguments must be a JSON object, not ${describeType(args)}`);
  const properties = isPlainObject(schema.properties) ? schema.properties : {};
  const out = { ...args };
  for (const key of Array.isArray(schema.required) ? schema.required : []) {
    if (!(key in out)) throw new InvalidArguments(`missing required argument ${key}`);
  }
  for (const [key, prop] of Object.entries(properties)) {
    if (!isPlainObject(prop)) continue;
    if (!(key in out)) {
      if ('default' in prop) out[key] = JSON.parse(JSON.stringify(prop.default));
      continue;
    }
    const value = out[key];
    if (prop.type !== undefined) {
      const types = Array.isArray(prop.type) ? prop.type : [prop.type];
      if (!types.some((type) => hasType(value, type))) {
        throw new InvalidArguments(`argument ${key} must be ${types.map(article).join(' or ')}, not ${describeType(value)}`);
      }
    }
    if (Array.isArray(prop.enum) && !prop.enum.some((allowed) => sameJson(allowed, value))) {
      throw new InvalidArguments(`argument ${key} must be one of ${prop.enum.map((v) => JSON.stringify(v)).join(', ')}`);
    }
  }
  if (schema.additionalProperties === false) {
    for (const key of Object.keys(out)) {
      if (!(key in properties)) throw new InvalidArguments(`unknown argument ${key}`);
    }
  }
  return out;
}

/** A logger over the `warden:plugin/log` import: log.info('...'), ... */
export function makeLog(hostLog) {
  const write = (level, parts) => {
    const message = parts.map((p) => (typeof p === 'string' ? p : safeJson(p))).join(' ');
    try {
      if (hostLog) hostLog(level, message);
      else console.error(`[${level}] ${message}`);
    } catch {
      // Logging must never break a call.
    }
  };
  const log = (level, ...parts) => write(LEVELS.includes(level) ? level : 'info', parts);
  for (const level of LEVELS) log[level] = (...parts) => write(level, parts);
  return log;
}

/** progress(done, total?, message?) over the `warden:plugin/progress` import. */
export function makeProgress(report) {
  return (done, total, message) => {
    if (!report) return;
    try {
      report(Number(done), total === undefined || total === null ? undefined : Number(total),
        message === undefined || message === null ? undefined : String(message));
    } catch {
      // Progress reports are best effort.
    }
  };
}

/**
 * One request of a batch sent with the client's `askAll`:
 * `ClientRequest.sample(prompt, options)`, `ClientRequest.elicit(message,
 * schema)`, `ClientRequest.elicitUrl(message, url)` or
 * `ClientRequest.listRoots()` take the arguments of the client method of the
 * same name and check them at once (a TypeError when malformed). Each gives
 * a frozen `{ kind }`, `kind` naming that method.
 */
export const ClientRequest = Object.freeze({
  sample(prompt, options) {
    return clientRequest('sample', { tag: 'sample', val: samplingRequest(prompt, options) });
  },
  elicit(message, schema) {
    return clientRequest('elicit', { tag: 'elicit', val: formRequest('elicit', message, schema) });
  },
  elicitUrl(message, url) {
    return clientRequest('elicitUrl', { tag: 'elicit', val: urlRequest('elicitUrl', message, url) });
  },
  listRoots() {
    return clientRequest('listRoots', { tag: 'list-roots' });
  },
});

function clientRequest(kind, request) {
  return Object.freeze({ [REQUEST]: request, kind });
}

/**
 * Requests to the MCP client over the `warden:plugin/client` import
 * (`imports` holds its `sample`, `elicit`, `listRoots` and `ask`; without
 * it, every request throws ClientError `unsupported`). Each method is async
 * and throws ClientError when the host gives no answer (`askAll` returns it
 * instead, for each request).
 */
export function makeClient(imports = {}) {
  const call = (request, fn, ...args) => {
    if (!imports[fn]) throw new ClientError('unsupported', 'the warden:plugin/client import is not available here', request);
    try {
      return imports[fn](...args);
    } catch (e) {
      throw toClientError(e, request);
    }
  };
  return {
    /**
     * Asks the client's model for a completion of `prompt` (a string: one
     * user message) or of `messages` (`[{ role: 'user' | 'assistant',
     * content: string | text() | blob() }]`, role default `user`).
     * Options: `systemPrompt`, `maxTokens` (default 1024), `temperature`,
     * `stopSequences`, `modelPreferences` (`{ hints, costPriority,
     * speedPriority, intelligencePriority }`). Resolves to `{ text,
     * content, role, model, stopReason }`; `text` is set when the answer is
     * text.
     */
    async sample(prompt, options) {
      return sampled(call('sample', 'sample', samplingRequest(prompt, options)));
    },
    /**
     * Asks the person to fill in a form: `message` says what and why,
     * `schema` is a JSON Schema object for an object of strings, numbers,
     * integers, booleans or enums. Resolves to `{ action: 'accept', content }`
     * (the parsed object), `{ action: 'decline' }` or `{ action: 'cancel' }`.
     */
    async elicit(message, schema) {
      return elicitation(call('elicit', 'elicit', formRequest('elicit', message, schema)));
    },
    /**
     * Asks the person to visit `url` (an absolute http(s) URL: a sign-in, a
     * payment). Resolves to `{ action: 'accept' | 'decline' | 'cancel' }`:
     * whether they agreed to go, not what they did there.
     */
    async elicitUrl(message, url) {
      const { action } = elicitation(call('elicit', 'elicit', urlRequest('elicitUrl', message, url)));
      return { action };
    },
    /** The client's roots: resolves to `[{ uri, name }]` (`name` may be undefined). */
    async listRoots() {
      return roots(call('list-roots', 'listRoots'));
    },
    /**
     * Asks several things at once. `requests` is an array of `[key,
     * request]` pairs: a key of yours (1 to 64 letters, digits, `_`, `-` or
     * `.`, unique in the batch) and a request made with `ClientRequest`.
     * Resolves to an array in the same order: each item is what the method
     * of the request's `kind` resolves to, or the ClientError it would
     * throw, returned rather than thrown so that one refusal does not lose
     * the other answers (its `request` is the key; `throw` it to fail the
     * call). A malformed or repeated key gets `failed`. On MCP 2026-07-28
     * the batch is one `input_required` round: the call runs again from the
     * start with the answers, so ask before acting, and ask the same things
     * for the same arguments. Rejects with a TypeError, before anything is
     * asked, when an item is not such a pair.
     */
    async askAll(requests) {
      const batch = checkBatch(requests);
      if (!imports.ask) {
        return batch.map(([key]) => new ClientError('unsupported', 'the warden:plugin/client import is not available here', key));
      }
      const results = imports.ask(batch.map(([key, request]) => [key, request[REQUEST]]));
      return batch.map(([key, request], i) => reply(key, request, results[i]));
    },
  };
}

/** The `[key, request]` pairs of `askAll(requests)`, checked. */
function checkBatch(requests) {
  if (!Array.isArray(requests)) throw new TypeError('askAll: requests must be an array of [key, request] pairs');
  for (const [i, item] of requests.entries()) {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || !(item[1] && item[1][REQUEST])) {
      throw new TypeError(`askAll: request ${i} must be a [key, request] pair: a string and a ClientRequest.sample(...), .elicit(...), .elicitUrl(...) or .listRoots()`);
    }
  }
  return requests;
}

/** The answer to `request` (asked under `key`) in the `result<answer, client-error>` `result`, or its ClientError. */
function reply(key, request, result) {
  if (!result || result.tag === 'err') return clientError(result && result.val, key);
  const answer = result.val;
  try {
    if (request.kind === 'sample' && answer.tag === 'sampled') return sampled(answer.val);
    if (request.kind === 'elicit' && answer.tag === 'elicited') return elicitation(answer.val, key);
    if (request.kind === 'elicitUrl' && answer.tag === 'elicited') return { action: answer.val.tag };
    if (request.kind === 'listRoots' && answer.tag === 'roots') return roots(answer.val);
  } catch (e) {
    if (e instanceof ClientError) return e;
    throw e;
  }
  return new ClientError('failed', `the host answered a ${request.kind} request with ${answer && answer.tag}`, key);
}

/** A `sampling-response` as `{ text, content, role, model, stopReason }`. */
function sampled({ role, content, model, stopReason }) {
  return { text: content.tag === 'text' ? content.val : undefined, content, role, model, stopReason };
}

/** The `elicitation-request` of a form. */
function formRequest(fn, message, schema) {
  if (typeof message !== 'string') throw new TypeError(`${fn}: message must be a string`);
  if (!isPlainObject(schema) || schema.type !== 'object') {
    throw new TypeError(`${fn}: schema must be a JSON Schema object with "type": "object"`);
  }
  return { tag: 'form', val: { message, requestedSchema: JSON.stringify(schema) } };
}

/** The `elicitation-request` of a page to visit. */
function urlRequest(fn, message, url) {
  if (typeof message !== 'string') throw new TypeError(`${fn}: message must be a string`);
  if (typeof url !== 'string') throw new TypeError(`${fn}: url must be a string`);
  return { tag: 'url', val: { message, url } };
}

function roots(list) {
  return list.map(({ uri, name }) => ({ uri, name }));
}

/** The `sampling-request` record for `sample(prompt, options)`. */
function samplingRequest(prompt, { systemPrompt, maxTokens = 1024, temperature, stopSequences = [], modelPreferences } = {}) {
  const messages = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : prompt;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new TypeError('sample: give a prompt string or a non-empty array of messages');
  }
  if (systemPrompt !== undefined && typeof systemPrompt !== 'string') throw new TypeError('sample: systemPrompt must be a string');
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > U32_MAX) {
    throw new TypeError('sample: maxTokens must be a positive integer');
  }
  if (temperature !== undefined && !(typeof temperature === 'number' && Number.isFinite(temperature))) {
    throw new TypeError('sample: temperature must be a number');
  }
  if (!Array.isArray(stopSequences) || !stopSequences.every((s) => typeof s === 'string')) {
    throw new TypeError('sample: stopSequences must be an array of strings');
  }
  return {
    messages: messages.map(samplingMessage),
    systemPrompt,
    modelPreferences: modelPreferences === undefined ? undefined : preferences(modelPreferences),
    maxTokens,
    temperature,
    stopSequences,
  };
}

function samplingMessage(message, i) {
  if (!isPlainObject(message)) throw new TypeError(`sample: message ${i} must be an object { role, content }`);
  const { role = 'user', content } = message;
  if (!ROLES.includes(role)) throw new TypeError(`sample: message ${i}: role must be user or assistant`);
  if (typeof content === 'string') return { role, content: text(content) };
  if (content && (content.tag === 'text' || content.tag === 'blob')) return { role, content };
  throw new TypeError(`sample: message ${i}: content must be a string, text() or blob()`);
}

function preferences(modelPreferences) {
  if (!isPlainObject(modelPreferences)) throw new TypeError('sample: modelPreferences must be an object');
  const { hints = [], costPriority, speedPriority, intelligencePriority } = modelPreferences;
  if (!Array.isArray(hints) || !hints.every((h) => typeof h === 'string')) {
    throw new TypeError('sample: modelPreferences.hints must be an array of strings');
  }
  const priorities = { costPriority, speedPriority, intelligencePriority };
  for (const [key, value] of Object.entries(priorities)) {
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1)) {
      throw new TypeError(`sample: modelPreferences.${key} must be a number from 0 to 1`);
    }
  }
  return { hints, ...priorities };
}

/** An `elicitation-response` as `{ action, content? }`. */
function elicitation(response, request = 'elicit') {
  if (response.tag !== 'accept') return { action: response.tag };
  if (response.val === undefined) return { action: 'accept', content: undefined };
  try {
    return { action: 'accept', content: JSON.parse(response.val) };
  } catch (e) {
    throw new ClientError('failed', `the answer is not valid JSON: ${e.message}`, request);
  }
}

/** A `client-error` thrown by an import (as ComponentError `payload`) as ClientError. */
function toClientError(e, request) {
  const payload = e && e.payload;
  if (!payload || typeof payload !== 'object' || !Object.hasOwn(CLIENT_ERRORS, payload.tag)) return e;
  return clientError(payload, request);
}

/** A `client-error` value as ClientError (`failed` when it is not one). */
function clientError(error, request) {
  if (!error || typeof error !== 'object' || !Object.hasOwn(CLIENT_ERRORS, error.tag)) {
    return new ClientError('failed', `the host gave no answer: ${safeJson(error)}`, request);
  }
  return new ClientError(CLIENT_ERRORS[error.tag], String(error.val ?? error.tag), request);
}

function err(tag, message) {
  return { tag: 'err', val: { tag, val: message } };
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function hasType(value, type) {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'integer': return Number.isInteger(value);
    case 'boolean': return typeof value === 'boolean';
    case 'object': return isPlainObject(value);
    case 'array': return Array.isArray(value);
    case 'null': return value === null;
    default: return true; // Not a type this light check knows: the host checked it.
  }
}

function describeType(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Number.isInteger(value)) return 'an integer';
  return article(typeof value);
}

function article(type) {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function sameJson(a, b) {
  return a === b || safeJson(a) === safeJson(b);
}

function safeJson(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
