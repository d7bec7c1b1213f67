// Entry of the `markdown` plugin, componentized by ./build.
//
// The world (wit/world.wit) is warden:plugin/plugin@0.2.0 plus the wasi:http,
// wasi:io/poll and monotonic-clock imports check_links uses; componentize-js
// generates the bindings for all of them at build time.

import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import { Fields, OutgoingRequest, RequestOptions } from 'wasi:http/types@0.2.12';
import { poll } from 'wasi:io/poll@0.2.12';
import { now, subscribeDuration } from 'wasi:clocks/monotonic-clock@0.2.12';
import { exportTools } from '../sdk-js/component.js';
import { wasiTransport } from './check.js';
import { markdownTools } from './tools.js';

const transport = () =>
  wasiTransport({ handle, Fields, OutgoingRequest, RequestOptions, poll, now, subscribeDuration });

export const tools = exportTools(markdownTools({ transport }));
