// The tools of the `{{name}}` Warden plugin: each a plain function with its
// JSON Schema beside it. This module imports only the SDK's core
// (sdk/warden.js), so plain node can test it (tools.test.js).

import { InvalidArguments, tool } from './sdk/warden.js';

/** Greets someone by name. */
export function greeting(name) {
  if (!name.trim()) throw new InvalidArguments('`name` is empty');
  return `Hello, ${name}!`;
}

export const greet = tool(
  {
    name: 'greet',
    title: 'Greet',
    description: 'Greet someone by name',
    inputSchema: {
      type: 'object',
      properties: { name: { type: 'string', description: 'Who to greet' } },
      required: ['name'],
    },
    annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  },
  ({ name }) => greeting(name),
);
