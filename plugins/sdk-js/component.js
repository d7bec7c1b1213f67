// Warden JavaScript SDK: the part that needs the component's imports.
//
// A plugin's entry file imports from here and exports the `tools` interface:
//
//   import { tool, exportTools } from '../sdk-js/component.js';
//   const hello = tool({ name: 'hello', description: 'Says hello' }, () => 'Hello!');
//   export const tools = exportTools([hello]);
//
// The `warden:plugin/...` modules exist only inside componentize-js, which
// generates them from the WIT world at build time; plain node cannot load
// this file (use warden.js in tests).

import { log as hostLog } from 'warden:plugin/log@0.2.0';
import { report } from 'warden:plugin/progress@0.2.0';
import { sample as hostSample, elicit as hostElicit, listRoots as hostListRoots, ask as hostAsk } from 'warden:plugin/client@0.2.0';
import { exportTools as exportWith, makeClient, makeLog, makeProgress } from './warden.js';

export {
  InvalidArguments, ToolFailed, ClientError, ClientRequest, tool, output, text, blob, resourceLink, checkArguments,
} from './warden.js';

const hostClient = { sample: hostSample, elicit: hostElicit, listRoots: hostListRoots, ask: hostAsk };

/** Logs into the host's log: log.info('...'), log.warn('...'), log('debug', '...'). */
export const log = makeLog(hostLog);

/** Reports progress of the current call: progress(done, total?, message?). */
export const progress = makeProgress(report);

/**
 * Requests to the MCP client during a call (also `ctx.client` in a handler):
 * `await sample(prompt, options?)`, `await elicit(message, schema)`,
 * `await elicitUrl(message, url)`, `await listRoots()`, and several at once
 * with `await askAll([[key, ClientRequest.sample(...)], ...])`; see
 * makeClient in warden.js. They throw ClientError when the host gives no
 * answer (askAll returns it in place of that request's answer).
 */
export const { sample, elicit, elicitUrl, listRoots, askAll } = makeClient(hostClient);

/** The object to export as `tools`: export const tools = exportTools([...]). */
export function exportTools(tools) {
  return exportWith(tools, { log: hostLog, report, client: hostClient });
}
