// Entry of the `{{name}}` Warden plugin, componentized by ./build.
// componentize-js generates the bindings of wit/ (world `plugin`) at build
// time; sdk/component.js wires in the `log`, `progress` and `client` imports.

import { exportTools } from './sdk/component.js';
import { greet } from './tools.js';

export const tools = exportTools([greet]);
