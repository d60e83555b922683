// The employees' chat page: conversation, streaming answers, citations, feedback,
// and the states a request can end in. Talks only to this page's own origin.

import { ApiError, Client, chatStream, readKey, writeKey } from "./api.js";
import { answerAsText, el, icon, renderAnswer, renderSources, sectionOf } from "./render.js";

const $ = (id) => document.getElementById(id);
const ui = {
  log: $("log"), welcome: $("welcome"), announce: $("announce"), role: $("role"),
  form: $("composer"), input: $("input"), send: $("send"), newChat: $("new-chat"), settings: $("open-settings"),
  citeDialog: $("cite-dialog"), citeTitle: $("cite-title"), citeDoc: $("cite-doc"), citePath: $("cite-path"),
  citeQuote: $("cite-quote"), citeMeta: $("cite-meta"),
  keyDialog: $("key-dialog"), keyForm: $("key-form"), keyInput: $("key-input"), keyReason: $("key-reason"),
  keyCurrent: $("key-current"), keyForget: $("key-forget"),
};

const client = new Client(readKey());
const state = {
  history: [], // completed {role, content} turns, sent as `messages`
  model: "", // default alias from /v1/models; "" lets the server pick its default
  active: null, // the Turn being answered
  awaitingKey: null, // a Turn stopped by 401, re-run once a key is saved
  meta: null, // promise of the roles/models load
};

// Refusal codes (`refusal_code`) that end an answer without it being a guard's refusal:
// the answer text is shown, muted, with these words as its title.
const REASON_WORDS = {
  no_evidence: "The role blueprints don't cover this, so there is no cited answer.",
};
const hasWords = (code) => Object.hasOwn(REASON_WORDS, code);

function announce(text) {
  ui.announce.textContent = "";
  requestAnimationFrame(() => { ui.announce.textContent = text; });
}

function nearBottom() {
  const { scrollTop, scrollHeight, clientHeight } = ui.log;
  return scrollHeight - scrollTop - clientHeight < 120;
}

function keepScrolled(wasNear) {
  if (wasNear) ui.log.scrollTop = ui.log.scrollHeight;
}

// ---- roles and models ---------------------------------------------------------------
async function loadMeta() {
  const [roles, models] = await Promise.allSettled([client.json("/v1/roles"), client.json("/v1/models")]);
  if ([roles, models].some((r) => r.status === "rejected" && r.reason instanceof ApiError && r.reason.status === 401)) {
    openKeyDialog(client.key ? "The saved API key was not accepted. Enter a valid key." : "This server needs an API key.");
    return;
  }
  if (models.status === "fulfilled") {
    const def = (models.value.data || []).find((m) => m.default);
    state.model = def ? def.id : "";
  }
  fillRoles(roles.status === "fulfilled" ? roles.value.data || [] : null);
}

function fillRoles(roles) {
  const chosen = ui.role.value;
  const all = el("option", { value: "", text: "All roles" });
  if (roles === null) {
    ui.role.replaceChildren(all);
    ui.role.title = "The role list could not be loaded; answers use every role.";
    return;
  }
  const families = new Map();
  for (const r of [...roles].sort((a, b) => a.role.localeCompare(b.role))) {
    const family = r.family || "Other";
    if (!families.has(family)) families.set(family, el("optgroup", { label: family }));
    families.get(family).append(el("option", { value: r.slug, text: r.role }));
  }
  ui.role.replaceChildren(all, ...[...families.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, g]) => g));
  ui.role.value = roles.some((r) => r.slug === chosen) ? chosen : "";
}

// ---- dialogs ----------------------------------------------------------------------------
function openDialog(dialog) {
  dialog.opener = document.activeElement;
  dialog.showModal();
}

for (const dialog of [ui.citeDialog, ui.keyDialog]) {
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); }); // backdrop
  dialog.querySelectorAll("[data-close]").forEach((b) => b.addEventListener("click", () => dialog.close()));
  dialog.addEventListener("close", () => {
    const back = dialog.opener && dialog.opener.isConnected ? dialog.opener : ui.input;
    back.focus();
  });
}

function showCitation(c, opener) {
  ui.citeTitle.textContent = `Source [${c.marker}]`;
  ui.citeDoc.textContent = c.document;
  ui.citePath.textContent = sectionOf(c);
  ui.citeQuote.textContent = c.quote;
  ui.citeMeta.textContent = `Role: ${c.role} · relevance ${Number(c.score).toFixed(2)}`;
  openDialog(ui.citeDialog);
  ui.citeDialog.opener = opener;
  ui.citeQuote.scrollTop = 0;
}

function maskKey(key) {
  const m = /^(lk_[0-9a-f]{12})_/.exec(key);
  return m ? `${m[1]}_…` : "custom key";
}

function openKeyDialog(reason = "") {
  ui.keyReason.hidden = !reason;
  ui.keyReason.textContent = reason;
  ui.keyCurrent.textContent = client.key
    ? `A key is saved in this browser (${maskKey(client.key)}).`
    : "No key saved: requests go without one, which works when the server runs in dev mode.";
  ui.keyInput.value = "";
  ui.keyForget.disabled = !client.key;
  if (!ui.keyDialog.open) openDialog(ui.keyDialog);
  ui.keyInput.focus();
}

function useKey(key) {
  client.key = key;
  writeKey(key);
  ui.keyDialog.close();
  refreshMeta();
  const waiting = state.awaitingKey;
  state.awaitingKey = null;
  if (waiting && !state.active) waiting.run();
}

ui.keyForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const key = ui.keyInput.value.trim();
  if (!key) {
    ui.keyReason.hidden = false;
    ui.keyReason.textContent = "Paste the key first (it starts with lk_).";
    ui.keyInput.focus();
    return;
  }
  useKey(key);
});
ui.keyForget.addEventListener("click", () => useKey(""));
ui.settings.addEventListener("click", () => openKeyDialog());

// ---- one question and its answer --------------------------------------------------------
class Turn {
  constructor(question, messages, role) {
    this.question = question;
    this.payload = { messages, ...(role ? { role } : {}) };
    this.article = el("article", { class: "msg bot", "aria-label": "Answer" });
    this.bubble = el("div", { class: "bubble" });
    this.article.append(this.bubble);
    this.timer = null;
  }

  setState(name) {
    this.article.dataset.state = name;
    this.article.setAttribute("aria-busy", String(name === "thinking" || name === "streaming"));
  }

  async run() {
    clearInterval(this.timer);
    delete this.article.dataset.deltas;
    this.text = "";
    this.citations = [];
    this.trace = "";
    this.setState("thinking");
    this.answer = el("div", { class: "answer", "aria-live": "polite" });
    this.bubble.replaceChildren(el("div", { class: "thinking" }, el("span", { class: "dots", "aria-hidden": "true" }, el("i"), el("i"), el("i")), "Thinking…"));
    announce("Thinking…");
    state.active = this;
    setBusy(true);
    this.controller = new AbortController();
    const started = (this.started = performance.now());
    let final = null;
    try {
      await state.meta;
      const events = chatStream(client, { model: state.model, ...this.payload }, this.controller.signal);
      for await (const ev of events) {
        if (ev.type === "delta") {
          if (!this.text) this.firstToken(started);
          this.text += ev.text;
          this.article.dataset.deltas = String(Number(this.article.dataset.deltas || 0) + 1);
          if (this.text === ev.text) this.paint(null); // the first words show at once
          else this.schedulePaint();
        } else if (ev.type === "final") {
          final = ev;
        } else if (ev.type === "error") {
          return this.failed(ev.message, ev.code);
        } else if (ev.type === "done") break;
      }
      if (!final) return this.failed("the server ended the answer without completing it", "stream_truncated");
      this.complete(final);
    } catch (err) {
      if (err.name === "AbortError") return this.stopped();
      if (err instanceof ApiError) return this.rejected(err);
      return this.failed("The server could not be reached. Check your connection and retry.", "network");
    } finally {
      if (state.active === this) {
        state.active = null;
        setBusy(false);
      }
    }
  }

  firstToken(started) {
    this.article.dataset.ttftMs = String(Math.round(performance.now() - started));
    this.setState("streaming");
    this.bubble.replaceChildren(this.answer);
  }

  schedulePaint() {
    // Many deltas can arrive in one frame; draw once per frame.
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.paint(null); });
  }

  paint(citationMap) {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const wasNear = nearBottom();
    renderAnswer(this.answer, this.text, citationMap, showCitation);
    keepScrolled(wasNear);
  }

  complete({ finish, extras }) {
    this.citations = Array.isArray(extras.citations) ? extras.citations : [];
    this.trace = extras.trace_id || "";
    if (this.trace) this.article.dataset.traceId = this.trace;
    this.article.dataset.totalMs = String(Math.round(performance.now() - this.started));
    const reason = extras.refusal_reason || "";
    // The code says what kind of ending this is; the reason is the guard's sentence for the
    // user. (Servers before refusal_code existed sent the code as the reason.)
    const code = extras.refusal_code || (hasWords(reason) ? reason : "");
    const noEvidence = extras.refused === true && hasWords(code);
    const guarded = !noEvidence && (finish === "content_filter" || (extras.refused && reason));
    if (guarded) return this.guarded(reason || this.text, isBlocked(extras));
    const map = new Map(this.citations.map((c) => [c.marker, c]));
    if (!this.text) this.bubble.replaceChildren(this.answer);
    this.paint(map);
    this.setState(noEvidence ? "no-evidence" : "done");
    if (noEvidence) this.answer.title = REASON_WORDS[code];
    const cited = this.citations.filter((c) => this.text.includes(`[${c.marker}]`));
    const wasNear = nearBottom();
    if (cited.length) this.bubble.append(renderSources(cited, showCitation));
    this.article.append(this.actions());
    keepScrolled(wasNear);
    state.history.push({ role: "user", content: this.question }, { role: "assistant", content: this.text });
    announce(noEvidence ? "No cited answer found." : `Answer ready${cited.length ? `, ${cited.length} source${cited.length > 1 ? "s" : ""}` : ""}.`);
  }

  guarded(reason, blocked) {
    this.setState(blocked ? "blocked" : "refused");
    const title = blocked ? "Message blocked for safety" : "I can't answer that";
    const detail = blocked
      ? "It looks like an attempt to change how the assistant works, so it was not processed."
      : null;
    cancelAnimationFrame(this.frame);
    this.bubble.replaceChildren(notice(blocked ? "blocked" : "refused", blocked ? "shield" : "info", title, [reason || detail]));
    this.article.append(this.actions({ copy: false }));
    announce(`${title}. ${reason}`);
  }

  failed(message, code) {
    if (this.text) this.paint(null);
    this.setState("error");
    const partial = this.text && !/incomplete/i.test(message) ? "The answer above is incomplete." : null;
    const title = code === "stream_interrupted" || code === "stream_truncated" ? "The answer was interrupted" : "Something went wrong";
    const box = notice("error", "alert", title, [sentence(message), partial], this.retryButton());
    if (this.text) this.bubble.append(box);
    else this.bubble.replaceChildren(box);
    announce(`${title}. ${message}`);
  }

  stopped() {
    if (this.text) this.paint(null);
    this.setState("stopped");
    const box = notice("error", "stop", "Stopped", [this.text ? "You stopped this answer; it is incomplete." : "You stopped this question."], this.retryButton());
    if (this.text) this.bubble.append(box);
    else this.bubble.replaceChildren(box);
  }

  rejected(err) {
    if (err.status === 401) {
      this.setState("auth");
      state.awaitingKey = this;
      const button = el("button", { type: "button", class: "btn", onclick: () => openKeyDialog(keyReason(err)) }, icon("key"), "Enter API key");
      this.bubble.replaceChildren(notice("auth", "key", "An API key is needed", [keyReason(err)], button));
      openKeyDialog(keyReason(err));
      return;
    }
    if (err.status === 429) return this.rateLimited(err);
    if (err.status === 403) {
      this.setState("auth");
      const button = el("button", { type: "button", class: "btn", onclick: () => openKeyDialog() }, icon("key"), "Change key");
      this.bubble.replaceChildren(notice("auth", "key", "This key may not do that", [sentence(err.message)], button));
      return;
    }
    if (err.status >= 500) return this.failed(err.message, err.code);
    this.setState("error"); // 400/404/413: retrying the same request cannot help
    this.bubble.replaceChildren(notice("error", "alert", "The question was not accepted", [sentence(err.message)]));
    announce(`The question was not accepted. ${err.message}`);
  }

  rateLimited(err) {
    this.setState("rate-limited");
    let left = Math.max(1, err.retryAfter ?? 10);
    const line = el("p", { class: "countdown" });
    const retry = this.retryButton();
    const tick = () => {
      line.textContent = left > 0 ? `You can try again in ${left} s.` : "You can try again now.";
      retry.disabled = left > 0;
      if (left <= 0) {
        clearInterval(this.timer);
        announce("You can try again now.");
      }
      left -= 1;
    };
    const box = notice("limited", "clock", "Too many requests", [sentence(err.message)]);
    box.lastChild.append(line, retry);
    this.bubble.replaceChildren(box);
    tick();
    this.timer = setInterval(tick, 1000);
    announce(`Too many requests. You can try again in ${left + 1} seconds.`);
  }

  retryButton() {
    return el("button", {
      type: "button", class: "btn retry",
      onclick: () => { if (!state.active) { this.article.querySelector(".footer")?.remove(); this.run(); } },
    }, icon("retry"), "Retry");
  }

  actions({ copy = true } = {}) {
    const footer = el("div", { class: "footer" });
    const bar = el("div", { class: "actions" });
    footer.append(bar);
    const status = el("span", { class: "status", role: "status" });
    if (copy) {
      bar.append(el("button", { type: "button", class: "btn ghost", onclick: () => this.copy(status) }, icon("copy"), "Copy answer"));
    }
    if (this.trace) bar.append(...feedback(this.trace, status, footer));
    bar.append(status);
    return footer;
  }

  async copy(status) {
    const text = answerAsText(this.text, this.citations.filter((c) => this.text.includes(`[${c.marker}]`)));
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied.";
    } catch {
      status.textContent = "Copying is blocked in this browser; select the text instead.";
    }
  }
}

function isBlocked(extras) {
  // A block (an attack) and a refusal (off topic, too long) read differently to the user.
  return extras.blocked === true || extras.refusal_code === "prompt_injection";
}

function keyReason(err) {
  return client.key ? `The saved key was not accepted: ${sentence(err.message)}` : "This server needs an API key.";
}

// Server messages are lower-case fragments ("rate limit exceeded"); show them as sentences.
function sentence(text) {
  const t = String(text || "").trim();
  if (!t) return "";
  return t[0].toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? "" : ".");
}

function notice(kind, iconName, title, lines, ...extra) {
  const body = el("div", {}, el("strong", { text: title }));
  for (const line of lines) if (line) body.append(el("p", { text: line }));
  body.append(...extra);
  return el("div", { class: `notice ${kind}`, role: kind === "blocked" || kind === "error" ? "alert" : null }, icon(iconName), body);
}

function feedback(trace, status, footer) {
  let rating = 0;
  const up = el("button", { type: "button", class: "btn ghost", "aria-label": "Good answer", "aria-pressed": "false", "data-rating": "1" }, icon("up"));
  const down = el("button", { type: "button", class: "btn ghost", "aria-label": "Bad answer", "aria-pressed": "false", "data-rating": "-1" }, icon("down"));
  const field = el("textarea", { id: `comment-${trace}`, maxlength: "2000", rows: "2", placeholder: "What was good or missing?" });
  const form = el("form", { class: "comment", hidden: true },
    el("label", { for: field.id, text: "Add a comment (optional)" }), field,
    el("button", { type: "submit", class: "btn", text: "Send comment" }));

  async function send(value, comment) {
    status.textContent = "Saving…";
    try {
      await client.json("/v1/feedback", { method: "POST", body: { trace_id: trace, rating: value, ...(comment ? { comment } : {}) } });
      rating = value;
      up.setAttribute("aria-pressed", String(value === 1));
      down.setAttribute("aria-pressed", String(value === -1));
      status.textContent = comment ? "Thanks, your comment was saved." : "Thanks for the feedback.";
      return true;
    } catch (err) {
      status.textContent = err instanceof ApiError && err.status === 401 ? "Feedback needs an API key." : `Feedback was not saved: ${err.message}`;
      return false;
    }
  }
  for (const button of [up, down]) {
    button.addEventListener("click", async () => {
      if (await send(Number(button.dataset.rating))) {
        form.hidden = false;
        field.focus();
      }
    });
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (await send(rating, field.value.trim())) form.hidden = true;
  });
  footer.append(form);
  return [up, down];
}

// ---- composer and conversation ------------------------------------------------------------
function setBusy(busy) {
  ui.send.classList.toggle("stop", busy);
  ui.send.setAttribute("aria-label", busy ? "Stop answer" : "Send question");
  ui.send.querySelector("use").setAttribute("href", busy ? "#i-stop" : "#i-send");
}

function ask(question) {
  ui.welcome.hidden = true;
  const turn = new Turn(question, [...state.history, { role: "user", content: question }], ui.role.value);
  ui.log.append(el("article", { class: "msg user", "aria-label": "Your question" }, el("div", { class: "bubble", text: question })), turn.article);
  keepScrolled(true);
  turn.run();
}

function submit() {
  if (state.active) return; // one answer at a time; the button is "Stop" meanwhile
  const question = ui.input.value.trim();
  if (!question) return;
  ui.input.value = "";
  autosize();
  ask(question);
}

function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${ui.input.scrollHeight}px`;
}

ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  if (state.active) state.active.controller.abort();
  else submit();
});
ui.input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
ui.input.addEventListener("input", autosize);
ui.log.addEventListener("click", (e) => {
  const example = e.target.closest(".example");
  if (example && !state.active) ask(example.textContent);
});
ui.newChat.addEventListener("click", () => {
  if (state.active) {
    state.active.controller.abort();
    state.active = null;
    setBusy(false);
  }
  for (const node of [...ui.log.children]) if (node !== ui.welcome) node.remove();
  state.history = [];
  state.awaitingKey = null;
  ui.welcome.hidden = false;
  ui.input.value = "";
  autosize();
  ui.input.focus();
  announce("New conversation.");
});

function refreshMeta() {
  // Never rejects: a failed load leaves "All roles" and the server's default model.
  state.meta = loadMeta().catch(() => fillRoles(null));
}

refreshMeta();
ui.input.focus();
