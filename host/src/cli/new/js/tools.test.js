// Unit tests of the tools, with plain node: node --test
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { InvalidArguments } from './sdk/warden.js';
import { greeting } from './tools.js';

test('greets by name', () => {
  assert.equal(greeting('Ada'), 'Hello, Ada!');
});

test('refuses an empty name', () => {
  assert.throws(() => greeting('  '), InvalidArguments);
});
