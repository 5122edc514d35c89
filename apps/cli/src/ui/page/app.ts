import "./styles.css";
import { ago, clock, h, mount } from "./dom.js";
import type { AuditEvent, BottleDetail, BottleSummary, RouteInForce, SuperviseRequest } from "./types.js";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const MAX_ROWS = 1500;
const csrf = document.querySelector<HTMLMetaElement>('meta[name="bottle-csrf"]')?.content ?? "";

interface Filters {
  outcome: string;
  host: string;
  source: string;
}

const state = {
  bottles: [] as BottleSummary[],
  slug: undefined as string | undefined,
  detail: undefined as BottleDetail | undefined,
  events: [] as AuditEvent[],
  filters: { outcome: "", host: "", source: "" } as Filters,
  connected: false,
};

// ---- API ------------------------------------------------------------------------------
async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function post(path: string, body: Record<string, unknown>): Promise<void> {
  const res = await fetch(path, { method: "POST", headers: { "content-type": "application/json", "x-bottle-csrf": csrf }, body: JSON.stringify(body) });
  if (!res.ok) {
    let message = `${res.status}`;
    try {
      const data = (await res.json()) as { error?: { message?: string; hint?: string } };
      message = [data.error?.message, data.error?.hint].filter(Boolean).join(" — ");
    } catch {
      message = await res.text().catch(() => message);
    }
    throw new Error(message);
  }
}

let stream: EventSource | undefined;
function connect(after?: number) {
  stream?.close();
  const params = new URLSearchParams();
  if (state.slug) params.set("slug", state.slug);
  if (after !== undefined) params.set("after", String(after));
  stream = new EventSource(`/api/stream?${params}`);
  stream.addEventListener("open", () => setConnected(true));
  stream.addEventListener("error", () => setConnected(false));
  stream.addEventListener("bottles", (e) => {
    state.bottles = JSON.parse((e as MessageEvent<string>).data) as BottleSummary[];
    renderSidebar();
    if (!state.slug) renderHome();
  });
  stream.addEventListener("detail", (e) => {
    const detail = JSON.parse((e as MessageEvent<string>).data) as BottleDetail;
    if (detail.summary.slug !== state.slug) return;
    state.detail = detail;
    renderBottle();
  });
  stream.addEventListener("audit", (e) => {
    const fresh = JSON.parse((e as MessageEvent<string>).data) as AuditEvent[];
    // a record that arrives later can pull an earlier one into its story (docs/audit.md)
    let relinked = false;
    for (const f of fresh) {
      if (!f.thread) continue;
      for (const link of f.links) {
        const earlier = state.events.find((x) => x.id === link);
        if (earlier && !earlier.thread) {
          earlier.thread = f.thread;
          relinked = true;
        }
      }
    }
    state.events.push(...fresh);
    if (state.events.length > MAX_ROWS) state.events.splice(0, state.events.length - MAX_ROWS);
    if (relinked) rebuildRows();
    else addRows(fresh);
  });
}

function setConnected(on: boolean) {
  state.connected = on;
  const dot = document.getElementById("live");
  if (dot) {
    dot.className = on ? "live on" : "live";
    dot.title = on ? "live: updates arrive as they happen" : "reconnecting…";
    dot.textContent = on ? "live" : "reconnecting";
  }
}

// ---- layout ---------------------------------------------------------------------------
const app = document.getElementById("app")!;
const sidebar = h("nav", { class: "sidebar", "aria-label": "Bottles" });
const main = h("main", { class: "main", id: "main" });
mount(
  app,
  h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: "#/" }, h("span", { class: "logo", "aria-hidden": "true" }, "◆"), "bottle"),
    h("span", { id: "live", class: "live" }, "connecting"),
    h("span", { class: "keys" }, h("kbd", {}, "j"), h("kbd", {}, "k"), " bottles  ", h("kbd", {}, "a"), " approve  ", h("kbd", {}, "/"), " filter"),
  ),
  h("div", { class: "body" }, sidebar, main),
);

function outcomeClass(outcome: string): string {
  if (["allow", "accept", "approve", "answer", "apply"].includes(outcome)) return "ok";
  if (["deny", "reject", "revoke"].includes(outcome)) return "warn";
  if (["block", "error"].includes(outcome)) return "bad";
  if (outcome === "redact") return "note";
  return "ask";
}

function renderSidebar() {
  const running = state.bottles.filter((b) => b.running);
  const stopped = state.bottles.filter((b) => !b.running);
  const item = (b: BottleSummary) =>
    h(
      "a",
      { class: `bottle-link${b.slug === state.slug ? " current" : ""}${b.running ? "" : " stopped"}`, href: `#/b/${b.slug}`, "data-slug": b.slug, "aria-current": b.slug === state.slug ? "page" : undefined },
      h("span", { class: `dot ${b.running ? "up" : "down"}`, "aria-hidden": "true" }),
      h("span", { class: "name" }, b.bottle),
      b.pending > 0 ? h("span", { class: "badge ask", title: `${b.pending} pending` }, String(b.pending)) : null,
    );
  mount(
    sidebar,
    h("h2", {}, "Running ", h("span", { class: "count" }, String(running.length))),
    running.length ? running.map(item) : h("p", { class: "muted small" }, "none — `bottle start <name>`"),
    stopped.length ? [h("h2", {}, "Stopped ", h("span", { class: "count" }, String(stopped.length))), stopped.slice(0, 30).map(item)] : null,
  );
}

function renderHome() {
  main.dataset.view = "home";
  mount(
    main,
    h("h1", {}, "Bottles"),
    state.bottles.length === 0
      ? h("p", { class: "muted" }, "No bottles yet. Start one with ", h("code", {}, "bottle start <name>"), ".")
      : h(
          "div",
          { class: "cards" },
          state.bottles.map((b) =>
            h(
              "a",
              { class: `card${b.running ? "" : " stopped"}`, href: `#/b/${b.slug}` },
              h("div", { class: "card-title" }, h("span", { class: `dot ${b.running ? "up" : "down"}` }), b.bottle),
              h("div", { class: "mono muted small" }, b.slug),
              h(
                "dl",
                { class: "facts" },
                h("dt", {}, "backend"),
                h("dd", {}, b.backend),
                h("dt", {}, b.running ? "up" : "stopped"),
                h("dd", {}, b.running ? ago(b.startedAt) : `${ago(b.stoppedAt ?? b.startedAt)} ago`),
                h("dt", {}, "routes"),
                h("dd", {}, String(b.routes)),
              ),
              h(
                "div",
                { class: "chips" },
                b.pending ? h("span", { class: "chip ask" }, `${b.pending} pending`) : null,
                h("span", { class: `chip ${b.deniedLastHour ? "warn" : "quiet"}` }, `${b.deniedLastHour} denied /1h`),
                h("span", { class: `chip ${b.blockedLastHour ? "bad" : "quiet"}` }, `${b.blockedLastHour} blocked /1h`),
              ),
            ),
          ),
        ),
  );
}

// ---- bottle page ----------------------------------------------------------------------
const headerBox = h("section", { class: "bottle-head" });
const pendingBox = h("section", { class: "pending", "aria-label": "Pending requests" });
const routesBox = h("section", { class: "routes" });
const streamBody = h("tbody", { id: "stream-rows" });
const hostFilter = h("input", { type: "search", id: "filter-host", placeholder: "host contains…", "aria-label": "Filter by host" });
const outcomeFilter = h(
  "select",
  { id: "filter-outcome", "aria-label": "Filter by decision" },
  h("option", { value: "" }, "all decisions"),
  ["allow", "deny", "block", "redact", "pending", "approve", "revoke", "accept", "reject", "apply"].map((o) => h("option", { value: o }, o)),
);
const sourceFilter = h(
  "select",
  { id: "filter-source", "aria-label": "Filter by sidecar" },
  h("option", { value: "" }, "all sidecars"),
  ["egress", "git-gate", "supervise", "routes"].map((s) => h("option", { value: s }, s)),
);
for (const el of [hostFilter, outcomeFilter, sourceFilter]) {
  el.addEventListener("input", () => {
    state.filters = { host: hostFilter.value.trim().toLowerCase(), outcome: outcomeFilter.value, source: sourceFilter.value };
    rebuildRows();
  });
}
const streamBox = h(
  "section",
  { class: "stream" },
  h("div", { class: "section-head" }, h("h2", {}, "Activity"), h("div", { class: "filters" }, outcomeFilter, sourceFilter, hostFilter)),
  h("div", { class: "table-wrap" }, h("table", { class: "events" }, h("thead", {}, h("tr", {}, h("th", {}, "time"), h("th", {}, "sidecar"), h("th", {}, "decision"), h("th", {}, "what"), h("th", {}, "thread"))), streamBody)),
);

function hostOf(e: AuditEvent): string {
  return e.http?.host ?? e.request?.host ?? e.routes?.hosts.join(" ") ?? e.git?.repo ?? "";
}

function visible(e: AuditEvent): boolean {
  const f = state.filters;
  return (!f.outcome || e.outcome === f.outcome) && (!f.source || e.source === f.source) && (!f.host || hostOf(e).toLowerCase().includes(f.host));
}

function row(e: AuditEvent): HTMLTableRowElement {
  return h(
    "tr",
    { "data-id": e.id, "data-outcome": e.outcome, class: `o-${outcomeClass(e.outcome)}`, title: e.links.length ? `follows from ${e.links.join(", ")}` : undefined },
    h("td", { class: "mono time", title: e.time }, clock(e.time)),
    h("td", {}, e.source),
    h("td", {}, h("span", { class: `pill ${outcomeClass(e.outcome)}` }, e.outcome)),
    h("td", { class: "what" }, e.summary),
    h("td", { class: "mono small nowrap" }, e.thread ? h("button", { class: "linkish", type: "button", onclick: () => filterThread(e.thread!) }, e.thread) : ""),
  );
}

function filterThread(thread: string) {
  const rows = streamBody.querySelectorAll<HTMLTableRowElement>("tr");
  for (const r of rows) r.classList.toggle("lit", state.events.find((e) => e.id === r.dataset.id)?.thread === thread);
}

function addRows(events: AuditEvent[]) {
  if (!state.slug) return;
  // newest on top
  for (const e of events) if (visible(e)) streamBody.prepend(row(e));
  while (streamBody.children.length > MAX_ROWS) streamBody.lastElementChild?.remove();
  const empty = document.getElementById("stream-empty");
  if (empty && streamBody.children.length > 0) empty.remove();
}

function rebuildRows() {
  streamBody.replaceChildren();
  addRows(state.events);
}

function renderBottle() {
  const d = state.detail;
  if (!d) return;
  if (main.dataset.view !== "bottle") {
    main.dataset.view = "bottle";
    mount(main, headerBox, pendingBox, routesBox, streamBox);
  }
  const s = d.summary;
  mount(
    headerBox,
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, h("span", { class: `dot ${s.running ? "up" : "down"}` }), s.bottle),
      h("span", { class: "mono muted" }, s.slug),
      h("span", { class: "chip quiet" }, s.backend),
      h("span", { class: "chip quiet" }, s.running ? `up ${ago(s.startedAt)}` : `stopped ${ago(s.stoppedAt ?? s.startedAt)} ago`),
      h("span", { class: `chip ${s.deniedLastHour ? "warn" : "quiet"}` }, `${s.deniedLastHour} denied /1h`),
      h("span", { class: `chip ${s.blockedLastHour ? "bad" : "quiet"}` }, `${s.blockedLastHour} blocked /1h`),
      h("span", { class: "grow" }),
      s.running ? h("button", { class: "btn danger-outline", type: "button", id: "stop", onclick: () => stop(s) }, "Stop bottle") : null,
    ),
  );
  renderPending(d.requests.filter((r) => r.status === "pending"));
  renderRoutes(d.routes);
}

function renderPending(pending: SuperviseRequest[]) {
  const ids = new Set(pending.map((r) => r.id));
  for (const card of [...pendingBox.querySelectorAll<HTMLElement>("[data-request]")]) if (!ids.has(card.dataset.request!)) card.remove();
  let head = pendingBox.querySelector("h2");
  if (!head) {
    head = h("h2", {});
    pendingBox.prepend(head);
  }
  head.textContent = pending.length ? `Waiting for you (${pending.length})` : "Nothing waiting for you";
  pendingBox.classList.toggle("has", pending.length > 0);
  for (const r of pending) if (!pendingBox.querySelector(`[data-request="${r.id}"]`)) pendingBox.appendChild(pendingCard(r));
}

function pendingCard(r: SuperviseRequest): HTMLElement {
  const slug = state.slug!;
  const error = h("p", { class: "error", role: "alert" });
  const reason = h("input", { type: "text", class: "reason", placeholder: "note to the agent (required to deny)", "aria-label": "Reason" });
  const act = async (verb: "approve" | "deny", body: Record<string, unknown>) => {
    error.textContent = "";
    card.classList.add("busy");
    try {
      await post(`/api/bottles/${slug}/requests/${r.id}/${verb}`, body);
      card.classList.add("done");
    } catch (e) {
      error.textContent = (e as Error).message;
    } finally {
      card.classList.remove("busy");
    }
  };
  let card: HTMLElement;
  if (r.kind === "question") {
    const answer = h("textarea", { rows: 2, class: "answer", placeholder: "your answer", "aria-label": "Answer" });
    reason.placeholder = "note to the agent (optional)";
    card = h(
      "article",
      { class: "request", "data-request": r.id },
      h("div", { class: "req-head" }, h("span", { class: "pill ask" }, "question"), h("span", { class: "mono small muted" }, `${r.id} · ${ago(r.createdAt)} ago`)),
      h("p", { class: "question" }, r.request.question ?? ""),
      answer,
      h(
        "div",
        { class: "actions" },
        reason,
        h("button", { class: "btn primary approve", type: "button", onclick: () => void act("approve", { answer: answer.value, reason: reason.value }) }, "Answer"),
        h("button", { class: "btn deny", type: "button", onclick: () => void act("deny", { reason: reason.value }) }, "Decline"),
      ),
      error,
    );
    return card;
  }
  const asked = r.request.methods ?? [];
  const offered = asked.length > 0 ? asked : METHODS;
  const boxes = offered.map((m) => h("input", { type: "checkbox", value: m, checked: asked.length > 0 || m === "GET" || m === "HEAD", "aria-label": m }));
  const paths = h("input", { type: "text", class: "paths mono", placeholder: "any path — or prefixes like /v1/, /docs/", "aria-label": "Path prefixes" });
  card = h(
    "article",
    { class: "request", "data-request": r.id },
    h("div", { class: "req-head" }, h("span", { class: "pill ask" }, "wants access"), h("span", { class: "mono small muted" }, `${r.id} · ${ago(r.createdAt)} ago`)),
    h("p", { class: "target" }, h("span", { class: "mono host" }, r.request.host ?? "?"), h("span", { class: "muted" }, ` port ${(r.request.ports ?? [443]).join(", ")} · ${asked.length ? asked.join(", ") : "any method"}`)),
    h("blockquote", { class: "why" }, r.request.reason ?? ""),
    h(
      "div",
      { class: "narrow" },
      h("span", { class: "label" }, "Allow"),
      boxes.map((b) => h("label", { class: "method" }, b, b.value)),
      h("span", { class: "label" }, "paths"),
      paths,
    ),
    h(
      "div",
      { class: "actions" },
      reason,
      h(
        "button",
        {
          class: "btn primary approve",
          type: "button",
          onclick: () => {
            const methods = boxes.filter((b) => b.checked).map((b) => b.value);
            if (methods.length === 0) {
              error.textContent = "Pick at least one method (or Deny).";
              return;
            }
            const narrowed = asked.length === 0 ? methods : methods.length < asked.length ? methods : undefined;
            const prefixes = paths.value.split(/[\s,]+/).filter(Boolean);
            void act("approve", { ...(narrowed ? { methods: narrowed } : {}), ...(prefixes.length ? { paths: prefixes } : {}), reason: reason.value });
          },
        },
        "Approve",
      ),
      h(
        "button",
        {
          class: "btn deny",
          type: "button",
          onclick: () => {
            if (!reason.value.trim()) {
              error.textContent = "Say why, so the agent can do something else.";
              reason.focus();
              return;
            }
            void act("deny", { reason: reason.value });
          },
        },
        "Deny",
      ),
    ),
    error,
  );
  return card;
}

function renderRoutes(routes: RouteInForce[]) {
  const slug = state.slug!;
  mount(
    routesBox,
    h("div", { class: "section-head" }, h("h2", {}, `Routes in force (${routes.length})`)),
    routes.length === 0
      ? h("p", { class: "muted" }, "None: every host is denied.")
      : h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "route-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "host"), h("th", {}, "methods"), h("th", {}, "paths"), h("th", {}, "from"), h("th", {}, ""))),
            h(
              "tbody",
              {},
              routes.map((r) =>
                h(
                  "tr",
                  { "data-route": r.id },
                  h("td", { class: "mono" }, r.host, r.ports.join(",") === "443" ? "" : h("span", { class: "muted" }, `:${r.ports.join(",")}`), r.credential ? h("span", { class: "chip quiet small", title: "egress injects a credential" }, "key") : null),
                  h("td", { class: "mono" }, r.methods.length ? r.methods.join(", ") : "any"),
                  h("td", { class: "mono" }, r.paths.length ? r.paths.join(", ") : "any"),
                  h(
                    "td",
                    { class: "small" },
                    r.origin === "manifest"
                      ? h("span", { class: "muted" }, "bottle.json")
                      : h("span", {}, "approved", r.approvedBy ? ` by ${r.approvedBy}` : "", r.approvedAt ? ` ${ago(r.approvedAt)} ago` : "", r.why ? h("span", { class: "muted" }, ` — “${r.why}”`) : ""),
                  ),
                  h(
                    "td",
                    { class: "right" },
                    r.origin === "approved" && r.requestId
                      ? h(
                          "button",
                          {
                            class: "btn small danger-outline revoke",
                            type: "button",
                            onclick: async (ev: Event) => {
                              const button = ev.currentTarget as HTMLButtonElement;
                              button.disabled = true;
                              try {
                                await post(`/api/bottles/${slug}/requests/${r.requestId}/revoke`, { reason: "revoked from the dashboard" });
                              } catch (e) {
                                button.disabled = false;
                                alert((e as Error).message);
                              }
                            },
                          },
                          "Revoke",
                        )
                      : null,
                  ),
                ),
              ),
            ),
          ),
        ),
  );
}

async function stop(s: BottleSummary) {
  if (!confirm(`Stop ${s.bottle} (${s.slug})? Its containers and networks are removed; logs stay in the state dir.`)) return;
  const button = document.getElementById("stop") as HTMLButtonElement | null;
  if (button) {
    button.disabled = true;
    button.textContent = "Stopping…";
  }
  try {
    await post(`/api/bottles/${s.slug}/stop`, {});
  } catch (e) {
    alert((e as Error).message);
  } finally {
    if (button) button.textContent = "Stop bottle";
  }
}

// ---- routing and keys -----------------------------------------------------------------
async function route() {
  const match = /^#\/b\/([a-z0-9-]+)$/.exec(location.hash);
  state.slug = match?.[1];
  state.detail = undefined;
  state.events = [];
  streamBody.replaceChildren();
  pendingBox.replaceChildren();
  main.dataset.view = "";
  state.bottles = await getJson<BottleSummary[]>("/api/bottles");
  renderSidebar();
  if (!state.slug) {
    renderHome();
    connect();
    return;
  }
  const detail = await getJson<BottleDetail>(`/api/bottles/${state.slug}`);
  state.detail = detail;
  state.events = detail.events ?? [];
  renderBottle();
  rebuildRows();
  if (state.events.length === 0) streamBody.appendChild(h("tr", { id: "stream-empty" }, h("td", { colspan: 5, class: "muted" }, "No activity yet.")));
  connect(detail.total);
}

window.addEventListener("hashchange", () => void route());
document.addEventListener("keydown", (e) => {
  const target = e.target as HTMLElement;
  if (e.key === "Escape") return target.blur();
  if (["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName) || e.metaKey || e.ctrlKey || e.altKey) return;
  if (e.key === "/") {
    e.preventDefault();
    hostFilter.focus();
  } else if (e.key === "j" || e.key === "k") {
    const slugs = state.bottles.map((b) => b.slug);
    const at = state.slug ? slugs.indexOf(state.slug) : -1;
    const next = slugs[Math.min(slugs.length - 1, Math.max(0, at + (e.key === "j" ? 1 : -1)))];
    if (next) location.hash = `#/b/${next}`;
  } else if (e.key === "a") {
    pendingBox.querySelector<HTMLButtonElement>(".request:not(.done) .approve")?.focus();
  }
});
setInterval(() => {
  // keep "ago" texts honest without a server round trip
  if (state.detail) renderBottle();
  else if (!state.slug) renderHome();
}, 30_000);
void route();
