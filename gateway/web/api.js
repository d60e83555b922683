// Talking to the gateway: same origin only, the API key in a Bearer header, errors as
// plain objects, and a server-sent-events reader over fetch (EventSource cannot POST
// or send headers).

const KEY_STORE = "ladder.apiKey";

export function readKey() {
  try {
    return localStorage.getItem(KEY_STORE) || "";
  } catch {
    return ""; // storage disabled (private mode, policy): the key lives for this page only
  }
}

export function writeKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORE, key);
    else localStorage.removeItem(KEY_STORE);
  } catch {
    /* see readKey */
  }
}

export class ApiError extends Error {
  constructor(status, message, { code = null, type = null, retryAfter = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.type = type;
    this.retryAfter = retryAfter; // seconds, from Retry-After on 429/503
  }
}

// Retry-After is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3).
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

export async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* a proxy's HTML error page: fall back to the status line */
  }
  const err = (body && body.error) || {};
  const message = typeof err.message === "string" && err.message ? err.message : `HTTP ${res.status} ${res.statusText}`.trim();
  return new ApiError(res.status, message, {
    code: err.code || null,
    type: err.type || null,
    retryAfter: parseRetryAfter(res.headers.get("Retry-After")),
  });
}

export class Client {
  constructor(key = "") {
    this.key = key;
  }

  async request(path, { method = "GET", body, signal } = {}) {
    const headers = { Accept: method === "POST" && body && body.stream ? "text/event-stream" : "application/json" };
    if (this.key) headers.Authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit", // the key is the only credential; no cookies exist or are sent
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  async json(path, options) {
    return (await this.request(path, options)).json();
  }
}

// Yields the data payload of each event ("data:" lines joined by newlines), per the
// HTML living standard's event-stream format: events end at a blank line, a line
// starting with ":" is a comment, one leading space after "data:" is dropped.
export async function* sseData(stream) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n|\r\r/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^(\r?\n\r?\n|\r\r)/, "");
        const data = dataOf(block);
        if (data !== null) yield data;
      }
    }
    const tail = dataOf(buffer);
    if (tail !== null) yield tail;
  } finally {
    reader.releaseLock();
  }
}

function dataOf(block) {
  const lines = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line.startsWith("data:")) lines.push(line.slice(line.startsWith("data: ") ? 6 : 5));
  }
  return lines.length ? lines.join("\n") : null;
}

// One streamed chat completion as a sequence of typed events:
// {type: "delta", text} | {type: "final", finish, extras} | {type: "error", message, code} | {type: "done"}
export async function* chatStream(client, payload, signal) {
  const res = await client.request("/v1/chat/completions", { method: "POST", body: { ...payload, stream: true }, signal });
  for await (const data of sseData(res.body)) {
    if (data === "[DONE]") {
      yield { type: "done" };
      return;
    }
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      continue; // not ours to interpret; the stream's own [DONE] still ends it
    }
    if (chunk.error) {
      yield { type: "error", message: chunk.error.message || "the answer stream failed", code: chunk.error.code || null };
      continue;
    }
    const choice = (chunk.choices && chunk.choices[0]) || null;
    const text = choice && choice.delta && typeof choice.delta.content === "string" ? choice.delta.content : "";
    if (text) yield { type: "delta", text };
    if (choice && choice.finish_reason) yield { type: "final", finish: choice.finish_reason, extras: chunk };
  }
  // The connection closed without [DONE]: the caller must not treat the answer as complete.
  yield { type: "error", message: "the connection closed before the answer was complete", code: "stream_truncated" };
}
