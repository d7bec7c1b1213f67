// check_links: requests each http(s) link and reports its status.
//
// Requests go through wasi:http/outgoing-handler directly rather than
// `fetch`: StarlingMonkey's fetch rejects every failure with the same
// "NetworkError when attempting to fetch resource", so a link the host
// refused (an origin the operator did not grant) could not be told apart from
// a server that is down. The wasi:http error code can: the host answers a
// request to an origin outside the plugin's grants with
// `HTTP-request-denied`, before any connection.
//
// The transport is injected (see `wasiTransport`), so the checking logic runs
// under plain node with a fake one.

export const NOT_ALLOWED = "not allowed by this plugin's grants";

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = 'warden-markdown-link-checker/0.1';

/**
 * A transport over the component's imports: `handle` from
 * wasi:http/outgoing-handler, `Fields`, `OutgoingRequest` and
 * `RequestOptions` from wasi:http/types, `poll` from wasi:io/poll, and `now`
 * and `subscribeDuration` from wasi:clocks/monotonic-clock.
 */
export function wasiTransport({ handle, Fields, OutgoingRequest, RequestOptions, poll, now, subscribeDuration }) {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const drop = (resource) => {
    const dispose = resource && resource[Symbol.dispose || Symbol.for('dispose')];
    if (dispose) dispose.call(resource);
  };
  return {
    /** Milliseconds on a monotonic clock. */
    now: () => Number(now() / 1_000_000n),
    /** Starts a request; returns { result() -> undefined | { status, location } | { error, detail } , close() }. */
    send(url, method, timeoutMs) {
      const target = new URL(url);
      const request = new OutgoingRequest(Fields.fromList([['user-agent', encoder.encode(USER_AGENT)]]));
      request.setMethod({ tag: method === 'GET' ? 'get' : 'head' });
      request.setScheme({ tag: target.protocol === 'https:' ? 'HTTPS' : 'HTTP' });
      request.setAuthority(target.host);
      request.setPathWithQuery(`${target.pathname}${target.search}`);
      const options = new RequestOptions();
      const ns = BigInt(timeoutMs) * 1_000_000n;
      for (const set of ['setConnectTimeout', 'setFirstByteTimeout']) {
        try {
          options[set](ns);
        } catch {
          // The host may not support this timeout; the checker's own deadline applies.
        }
      }
      let future;
      try {
        future = handle(request, options);
      } catch (e) {
        const code = e && e.payload;
        return settled(code && code.tag ? errorOf(code) : { error: 'internal-error', detail: String(e && e.message) });
      }
      const pollable = future.subscribe();
      let done;
      return {
        pollable,
        result() {
          if (done) return done;
          if (!pollable.ready()) return undefined;
          const outcome = future.get();
          if (outcome === undefined) return undefined;
          if (outcome.tag === 'err') {
            done = { error: 'internal-error', detail: 'the response was already taken' };
          } else if (outcome.val.tag === 'err') {
            done = errorOf(outcome.val.val);
          } else {
            const response = outcome.val.val;
            const headers = response.headers();
            const location = headers.get('location');
            done = { status: response.status() };
            if (location.length > 0) done.location = decoder.decode(location[0]);
            drop(headers);
            drop(response);
          }
          this.close();
          return done;
        },
        close() {
          drop(pollable);
          drop(future);
          this.pollable = undefined;
        },
      };
    },
    /** Waits until one of `pending` is ready or `ms` have passed. */
    wait(pending, ms) {
      const timer = subscribeDuration(BigInt(Math.max(0, Math.ceil(ms))) * 1_000_000n);
      const pollables = pending.map((p) => p.pollable).filter(Boolean);
      poll([...pollables, timer]);
      drop(timer);
    },
  };
}

function settled(result) {
  return { pollable: undefined, result: () => result, close() {} };
}

/** A wasi:http error-code as { error, detail }. */
function errorOf(code) {
  const detail = code.val === undefined || code.val === null ? undefined : code.val;
  return { error: code.tag, detail };
}

const MESSAGES = {
  'HTTP-request-denied': NOT_ALLOWED,
  'DNS-timeout': 'DNS lookup timed out',
  'DNS-error': 'DNS lookup failed',
  'destination-not-found': 'host not found',
  'destination-unavailable': 'host unavailable',
  'destination-IP-prohibited': 'destination IP prohibited',
  'destination-IP-unroutable': 'destination IP unroutable',
  'connection-refused': 'connection refused',
  'connection-terminated': 'connection closed by the server',
  'connection-timeout': 'connection timed out',
  'connection-read-timeout': 'timed out reading the response',
  'connection-write-timeout': 'timed out sending the request',
  'connection-limit-reached': 'connection limit reached',
  'TLS-protocol-error': 'TLS protocol error',
  'TLS-certificate-error': 'TLS certificate error',
  'TLS-alert-received': 'TLS alert received',
  'HTTP-response-timeout': 'no response in time',
  'HTTP-response-incomplete': 'incomplete response',
};

function describeError({ error, detail }) {
  let text = MESSAGES[error] || error;
  if (error === 'DNS-error' && detail && detail.rcode) text += ` (${detail.rcode})`;
  else if (error === 'internal-error' && detail) text += `: ${detail}`;
  else if (error === 'TLS-alert-received' && detail && detail.alertMessage) text += `: ${detail.alertMessage}`;
  return text;
}

/**
 * Checks `urls` (absolute http/https URLs) through `transport`, at most
 * `concurrency` at a time. Each gets `timeoutMs` per request; after
 * `budgetMs` in all, links not finished are reported as such. Redirects are
 * followed up to `maxRedirects` hops (each hop's origin is checked by the
 * host again); a HEAD answered with 405 or 501 is retried once with GET.
 *
 * Returns one entry per URL, in order: { url, result, status?, message,
 * final_url?, redirects? } where result is ok | broken | not-allowed |
 * error | timeout | not-checked.
 */
export function checkUrls(urls, { transport, concurrency = 4, timeoutMs = 5000, budgetMs = 20000, maxRedirects = 5, method = 'HEAD', requestLimit = 16 }) {
  const started = transport.now();
  const results = urls.map((url) => ({ url }));
  const queue = results.map((result) => ({ result, current: result.url, method, hops: [], retried: false }));
  const active = [];
  let sent = 0; // requests started
  let denials = 0; // requests the host refused (they do not count against http_max_requests)
  const reached = new Set(); // origins the host let a request through to
  const refused = []; // [job, origin] of refusals, settled at the end

  const finish = (job, fields) => {
    Object.assign(job.result, fields);
    if (job.hops.length) {
      job.result.redirects = job.hops;
      job.result.final_url = job.current;
    }
  };
  const begin = (job) => {
    job.seq = sent++;
    job.pending = transport.send(job.current, job.method, timeoutMs);
    job.deadline = transport.now() + timeoutMs;
    active.push(job);
  };

  while (queue.length || active.length) {
    while (active.length < concurrency && queue.length) {
      const job = queue.shift();
      if (transport.now() - started >= budgetMs) {
        finish(job, { result: 'not-checked', message: `not checked: the time budget of ${budgetMs} ms ran out` });
        continue;
      }
      begin(job);
    }
    if (!active.length) break;
    const wake = Math.min(started + budgetMs, ...active.map((j) => j.deadline));
    if (active.every((j) => j.pending.result() === undefined)) {
      transport.wait(active.map((j) => j.pending), wake - transport.now());
    }
    const nowMs = transport.now();
    for (const job of active.slice()) {
      const outcome = job.pending.result();
      if (outcome === undefined) {
        if (nowMs >= job.deadline || nowMs - started >= budgetMs) {
          job.pending.close();
          active.splice(active.indexOf(job), 1);
          finish(job, { result: 'timeout', message: nowMs >= job.deadline ? `no response within ${timeoutMs} ms` : 'the time budget ran out' });
        }
        continue;
      }
      active.splice(active.indexOf(job), 1);
      const origin = originOf(job.current);
      if (outcome.error) {
        const denied = outcome.error === 'HTTP-request-denied';
        let message = describeError(outcome);
        if (denied) {
          // Requests the host refused do not count against its limit.
          if (job.seq - denials >= requestLimit) message += ' (or this call reached its limit of requests, http_max_requests)';
          denials++;
          refused.push([job, origin]);
        } else {
          reached.add(origin);
        }
        if (job.hops.length) message = `redirect to ${job.current}: ${message}`;
        finish(job, { result: denied ? 'not-allowed' : 'error', message, error: outcome.error });
        continue;
      }
      reached.add(origin);
      const { status, location } = outcome;
      if (REDIRECTS.has(status) && location !== undefined && job.hops.length < maxRedirects) {
        let next;
        try {
          next = new URL(location, job.current).href;
        } catch {
          finish(job, { result: 'broken', status, message: `${status} with an invalid Location: ${location}` });
          continue;
        }
        job.hops.push({ status, location: next });
        job.current = next;
        if (!/^https?:$/.test(new URL(next).protocol)) {
          finish(job, { result: 'error', status, message: `redirect to a non-HTTP URL: ${next}` });
          continue;
        }
        begin(job);
        continue;
      }
      if ((status === 405 || status === 501) && job.method === 'HEAD' && !job.retried) {
        job.method = 'GET';
        job.retried = true;
        begin(job);
        continue;
      }
      const ok = status >= 200 && status < 300;
      let message = `${status}`;
      if (REDIRECTS.has(status)) message += location === undefined ? ' redirect without a Location' : ` redirect (more than ${maxRedirects} hops)`;
      if (job.hops.length) message += ` after ${job.hops.length} redirect${job.hops.length > 1 ? 's' : ''}`;
      finish(job, { result: ok ? 'ok' : 'broken', status, message });
    }
  }
  // The host refuses by origin, so a refusal of an origin it let another
  // request through to was its limit of requests per call.
  for (const [job, origin] of refused) {
    if (reached.has(origin)) {
      job.result.result = 'not-checked';
      job.result.message = `${job.hops.length ? `redirect to ${job.current}: ` : ''}not checked: this call reached the host's limit of requests per call (http_max_requests)`;
    }
  }
  return results;
}

function originOf(url) {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
