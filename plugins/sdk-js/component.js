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

import { log as hostLog } from 'warden:plugin/log@0.1.1';
import { report } from 'warden:plugin/progress@0.1.1';
import { exportTools as exportWith, makeLog, makeProgress } from './warden.js';

export { InvalidArguments, ToolFailed, tool, output, text, blob, checkArguments } from './warden.js';

/** Logs into the host's log: log.info('...'), log.warn('...'), log('debug', '...'). */
export const log = makeLog(hostLog);

/** Reports progress of the current call: progress(done, total?, message?). */
export const progress = makeProgress(report);

/** The object to export as `tools`: export const tools = exportTools([...]). */
export function exportTools(tools) {
  return exportWith(tools, { log: hostLog, report });
}
