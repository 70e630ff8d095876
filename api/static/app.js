// The musicrec page: a plain client of the public REST API (no framework, no build step).

const MODALITIES = ["lyrics", "lyrics_terms", "cover", "audio"];
const WEIGHT_LABELS = {
  lyrics: "Lyrics meaning",
  lyrics_terms: "Lyrics words",
  cover: "Cover look",
  audio: "Sound (audio features)",
};
const LIMIT = 24; // recommendations per query
const SEARCH_LIMIT = 9;
const TRACK_ID = /^[A-Za-z0-9]{22}$/; // a Spotify id: looked up directly instead of searched
const PLACEHOLDER =
  "data:image/svg+xml," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">' +
      '<path d="M42 28v34a9 9 0 1 0 5 8V40l20-5v20a9 9 0 1 0 5 8V22z" fill="#a3a9b5"/></svg>',
  );

const $ = (id) => document.getElementById(id);
const state = { positive: new Map(), negative: new Map(), found: [] };
const inflight = {}; // kind → AbortController: the newest request of a kind wins

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function describe(detail) {
  if (Array.isArray(detail)) {
    return detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
  }
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}

async function api(kind, path, options = {}) {
  inflight[kind]?.abort();
  const controller = (inflight[kind] = new AbortController());
  const response = await fetch(path, { ...options, signal: controller.signal });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, describe(body?.detail ?? response.statusText));
  }
  return body;
}

function say(message, isError = false) {
  const status = $("status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function failed(what, error) {
  if (error.name === "AbortError") return; // superseded by a newer request
  const status = error instanceof ApiError ? ` (HTTP ${error.status})` : "";
  say(`${what} failed${status}: ${error.message}`, true);
}

function debounce(fn, ms = 300) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// --- query parts -------------------------------------------------------------------------
function filters() {
  const year = (id) => ($(id).value ? Number($(id).value) : null);
  const explicit = $("explicit").value;
  const genre = $("genre").value.trim();
  return {
    genres: genre ? [genre] : [],
    year_min: year("year-min"),
    year_max: year("year-max"),
    explicit: explicit === "" ? null : explicit === "true",
  };
}

function filterParams(params = new URLSearchParams()) {
  const f = filters();
  f.genres.forEach((g) => params.append("genre", g));
  for (const key of ["year_min", "year_max", "explicit"]) {
    if (f[key] !== null) params.set(key, f[key]);
  }
  return params;
}

function weights() {
  return Object.fromEntries(MODALITIES.map((m) => [m, Number($(`w-${m}`).value)]));
}

// --- rendering ---------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function bar(label, value, text) {
  const fill = el("span", { className: "fill" });
  fill.style.width = `${Math.round(Math.max(0, Math.min(1, value ?? 0)) * 100)}%`;
  return el(
    "li",
    { className: value === null ? "none" : "" },
    el("span", { className: "label" }, label),
    el("span", { className: "bar", ariaHidden: "true" }, fill),
    el("span", { className: "value" }, text),
  );
}

function reasons(item) {
  const list = el("ul", { className: "bars" });
  list.setAttribute("aria-label", "Similarity to the query per modality (cosine)");
  for (const [modality, cos] of Object.entries(item.similarities)) {
    list.append(bar(modality.replace("_", " "), cos, cos === null ? "none" : cos.toFixed(2)));
  }
  if (item.explanation) return [list, signals(item)];
  if (item.blended_score === null || item.blended_score === undefined) return [list];
  const scores = el("ul", { className: "bars scores" });
  scores.setAttribute("aria-label", "Scores behind the personal ranking (0 to 1)");
  for (const [label, key] of [
    ["content", "content_score"],
    ["collab", "collaborative_score"],
    ["blended", "blended_score"],
  ]) {
    const v = item[key];
    scores.append(bar(label, v, v === null ? "n/a" : v.toFixed(2)));
  }
  return [list, scores];
}

// The learned ranker's explanation: one bar per signal, its TreeSHAP contribution to the
// score (right = pushed up, left/red = pushed down), scaled to the item's largest one.
const SIGNAL_LABELS = {
  lyrics: "lyrics", lyrics_terms: "lyric terms", cover: "cover", audio: "audio",
  content: "content rank", collaborative: "LightFM", cooccurrence: "co-occurrence",
  artist: "artist", ease: "EASE", ials: "iALS", rp3beta: "RP3β", userknn: "similar listeners",
  popularity: "popularity", context: "context",
};

function signals(item) {
  const list = el("ul", { className: "bars signals" });
  list.setAttribute(
    "aria-label",
    `Why ranked here: each signal's contribution to the ranker score ${item.score.toFixed(2)}`,
  );
  const parts = Object.entries(item.explanation).filter(([k]) => k !== "base");
  const scale = Math.max(1e-9, ...parts.map(([, v]) => Math.abs(v)));
  for (const [signal, v] of parts.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))) {
    const li = bar(SIGNAL_LABELS[signal] ?? signal, Math.abs(v) / scale, (v > 0 ? "+" : "") + v.toFixed(2));
    if (v < 0) li.classList.add("neg");
    list.append(li);
  }
  const from = el("li", { className: "sources" }, `found by: ${item.sources.join(", ")}`);
  list.append(from);
  return list;
}

function cover(track) {
  const what = `${track.album_name || track.name} by ${track.artists.join(", ") || "unknown"}`;
  const img = el("img", { className: "cover", width: 300, height: 300, loading: "lazy" });
  const placeholder = (alt) => {
    img.src = PLACEHOLDER;
    img.alt = alt;
    img.classList.add("placeholder");
  };
  if (track.album_url) {
    img.src = `/covers/${encodeURIComponent(track.id)}`;
    img.alt = `Album cover: ${what}`;
    img.addEventListener("error", () => placeholder(`Cover unavailable: ${what}`), { once: true });
  } else {
    placeholder(`No cover: ${what}`);
  }
  return img;
}

function toggleButton(track, list, text) {
  const pressed = state[list].has(track.id);
  const button = el("button", { type: "button", className: `pick ${list}` }, text);
  button.setAttribute("aria-pressed", String(pressed));
  button.setAttribute("aria-label", `${text}: ${track.name}`);
  button.addEventListener("click", () => toggleSeed(track, list));
  return button;
}

function card(item) {
  const t = item.track;
  const facts = [t.artists.join(", "), t.year, t.genre].filter(Boolean).join(" · ");
  const node = el(
    "li",
    { className: "card" },
    cover(t),
    el(
      "div",
      { className: "body" },
      el("h3", { className: "name" }, t.name || t.id),
      el("p", { className: "facts" }, facts),
      ...reasons(item),
      el(
        "div",
        { className: "actions" },
        toggleButton(t, "positive", "Like"),
        toggleButton(t, "negative", "Not like this"),
      ),
    ),
  );
  node.dataset.trackId = t.id;
  return node;
}

function render(grid, items) {
  // Keep keyboard focus on the same button when a grid is redrawn under it.
  const focused = document.activeElement;
  const id = $(grid).contains(focused) && focused.closest(".card")?.dataset.trackId;
  $(grid).replaceChildren(...items.map(card));
  if (id) {
    const selector = `[data-track-id="${CSS.escape(id)}"] .${focused.classList[1]}`;
    $(grid).querySelector(selector)?.focus();
  }
  const genres = new Set([...$("genres").options].map((o) => o.value));
  items.forEach((i) => i.track.genre && genres.add(i.track.genre));
  $("genres").replaceChildren(...[...genres].sort().map((g) => el("option", { value: g })));
}

function renderSeeds() {
  for (const list of ["positive", "negative"]) {
    const chips = [...state[list].values()].map((t) => {
      const remove = el("button", { type: "button", className: "remove" }, "×");
      remove.setAttribute("aria-label", `Remove ${t.name}`);
      remove.addEventListener("click", () => toggleSeed(t, list));
      return el("li", {}, el("span", {}, t.name), remove);
    });
    $(list).replaceChildren(...chips);
  }
  for (const button of document.querySelectorAll("button.pick")) {
    const list = button.classList[1];
    const pressed = state[list].has(button.closest(".card").dataset.trackId);
    button.setAttribute("aria-pressed", String(pressed));
  }
}

function toggleSeed(track, list) {
  const other = list === "positive" ? "negative" : "positive";
  if (state[list].has(track.id)) {
    state[list].delete(track.id);
  } else {
    state[list].set(track.id, track);
    state[other].delete(track.id); // the API refuses a track that is both
  }
  renderSeeds();
  recommend();
}

// --- requests ----------------------------------------------------------------------------
async function search(event) {
  event?.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  const modality = document.querySelector("input[name=modality]:checked").value;
  say(`Searching ${modality} for “${q}”…`);
  try {
    if (TRACK_ID.test(q)) {
      const track = await api("search", `/tracks/${q}`).catch((e) => {
        if (e.status !== 404) throw e;
      });
      if (track) return showFound([{ track, similarities: {} }], `Track ${q}`);
    }
    const params = filterParams(new URLSearchParams({ q, modality, limit: SEARCH_LIMIT }));
    const body = await api("search", `/search?${params}`);
    showFound(body.items, `${body.items.length} ${modality} matches for “${q}”`);
  } catch (error) {
    if (error.status === 400 && modality === "cover") {
      say(`Cover search is not supported by this server: ${error.message}`, true);
    } else {
      failed("Search", error);
    }
  }
}

async function searchImage() {
  const file = $("cover-file").files[0];
  if (!file) return;
  say(`Searching covers like ${file.name}…`);
  const form = new FormData();
  form.append("image", file);
  try {
    const url = `/search/cover?${filterParams(new URLSearchParams({ limit: SEARCH_LIMIT }))}`;
    const body = await api("search", url, { method: "POST", body: form });
    showFound(body.items, `${body.items.length} covers like ${file.name}`);
  } catch (error) {
    failed("Cover search", error);
  }
}

function showFound(items, summary) {
  state.found = items;
  render("found-grid", items);
  $("found-note").textContent = items.length
    ? `${summary}. Like one to use it as a seed.`
    : "No matches: try other words or loosen the filters.";
  say(items.length ? summary : "No matches.");
}

async function recommend() {
  const user = $("user").value;
  const learned = $("learned").checked;
  const collab = Number($("collab").value);
  const blend = learned ? {} : { collab_weight: collab };
  let request;
  if (state.positive.size) {
    const body = {
      positive: [...state.positive.keys()],
      negative: [...state.negative.keys()],
      weights: weights(),
      filters: filters(),
      limit: LIMIT,
      ...(user && { user_id: user, ...blend }),
    };
    const headers = { "content-type": "application/json" };
    request = ["/recommendations", { method: "POST", headers, body: JSON.stringify(body) }];
  } else if (user) {
    const params = filterParams(new URLSearchParams({ limit: LIMIT, ...blend }));
    request = [`/users/${encodeURIComponent(user)}/recommendations?${params}`];
  } else {
    inflight.recommend?.abort();
    render("rec-grid", []);
    $("rec-note").textContent = "Pick a seed or a listener to get recommendations.";
    return;
  }
  say("Recommending…");
  try {
    const body = await api("recommend", ...request);
    render("rec-grid", body.items);
    $("rec-note").textContent = explain(body, user);
    say(body.items.length ? `${body.items.length} recommendations.` : "No recommendations.");
  } catch (error) {
    failed("Recommendation", error);
  }
}

function explain(body, user) {
  if (!body.items.length) {
    return "Nothing matches: loosen the filters, or change the seeds.";
  }
  const used = body.modalities.map((m) => `${m} ×${body.weights[m] ?? 1}`).join(", ");
  const seeds = state.positive.size
    ? "your seeds"
    : `${user}'s recent tracks (the weights apply to seeds you pick)`;
  const p = body.personalization;
  const personal = {
    applied:
      p.ranker === "learned"
        ? `, ranked for ${p.user_id} by the learned ranker (bars: what each signal did)`
        : `, reranked for ${p.user_id} (collaborative share ${p.collab_weight})`,
    "unknown-user": `. The model does not know ${p.user_id} yet: content only`,
    "no-model": ". No collaborative model is loaded: content only",
    "not-requested": "",
  }[p.status];
  return `Like ${seeds}, fused (${body.fusion}) from ${used}${personal}.`;
}

// GET /users lists people, so it needs the API key; the key typed here stays in this tab.
function keyHeaders() {
  const key = sessionStorage.getItem("musicrec-api-key");
  return key ? { "X-API-Key": key } : {};
}

async function loadUsers() {
  $("user").replaceChildren(el("option", { value: "" }, "Nobody (content only)"));
  try {
    const body = await api("users", "/users?limit=200", { headers: keyHeaders() });
    const options = body.users.map((u) => {
      const label = `${u.id} (${u.interactions} tracks${u.in_model ? "" : ", not in model"})`;
      return el("option", { value: u.id }, label);
    });
    $("user").append(...options);
    $("key-note").textContent = "";
  } catch (error) {
    if (error instanceof ApiError && [401, 403].includes(error.status)) {
      $("key-note").textContent =
        error.status === 401
          ? "Listing listeners needs the API key: type it below."
          : "That API key was refused: check it and try again.";
      return;
    }
    failed("Loading listeners", error);
  }
}

// Online evaluation: hit rate@10 of served recommendations per day and model (GET /stats).
async function loadStats() {
  try {
    const body = await api("stats", "/stats?days=14");
    const rows = body.days.map((d) => {
      const coverage = d.coverage === null ? "" : ` · coverage ${(d.coverage * 100).toFixed(1)}%`;
      const text = `${(d.hit_rate * 100).toFixed(0)}% of ${d.requests} (${d.users} users${coverage})`;
      return bar(`${d.day} ${d.model_version}`, d.hit_rate, text);
    });
    $("stats-chart").replaceChildren(...rows);
    $("stats-note").textContent = rows.length
      ? `Hit rate@${body.hit_at}: served lists with a top-${body.hit_at} track played within ${body.window_days} days.`
      : "No personalised recommendations served in the last 14 days.";
  } catch (error) {
    $("stats-note").textContent = `Statistics unavailable: ${error.message}`;
  }
}

async function loadHealth() {
  try {
    const h = await api("health", "/health");
    const loaded = h.collaborative?.status === "loaded";
    const model = loaded ? "collaborative model loaded" : "no collaborative model";
    const ranker = h.ranker?.status === "loaded" ? "learned ranker" : "no ranker (linear blend)";
    $("health").textContent = `${h.points} tracks · ${h.engine} engine · ${model} · ${ranker}`;
  } catch (error) {
    $("health").textContent = `The API is not ready: ${error.message}`;
    $("health").classList.add("error");
  }
}

// --- wiring ------------------------------------------------------------------------------
function weightSliders() {
  return MODALITIES.map((m) => {
    const id = `w-${m}`;
    const input = el("input", { type: "range", id, min: 0, max: 3, step: 0.1, value: 1 });
    const output = el("output", {}, "1.0");
    output.htmlFor = id;
    input.addEventListener("input", () => (output.value = Number(input.value).toFixed(1)));
    const label = el("label", { htmlFor: id }, `${WEIGHT_LABELS[m]} `, output);
    return el("div", { className: "slider" }, label, input);
  });
}

function start() {
  $("weights").append(...weightSliders());
  if (matchMedia("(max-width: 700px)").matches) {
    document.querySelectorAll("details.panel").forEach((d) => (d.open = false));
  }
  const requery = debounce(() => recommend());
  const refilter = debounce(() => {
    recommend();
    if (state.found.length && $("q").value.trim()) search();
  });
  $("search-form").addEventListener("submit", search);
  $("cover-file").addEventListener("change", searchImage);
  $("weights").addEventListener("input", requery);
  $("learned").addEventListener("change", () => {
    $("collab").disabled = $("learned").checked;
    recommend();
  });
  $("collab").disabled = $("learned").checked;
  $("collab").addEventListener("input", () => {
    $("collab-out").value = Number($("collab").value).toFixed(2);
    requery();
  });
  $("user").addEventListener("change", () => recommend());
  for (const id of ["genre", "year-min", "year-max", "explicit"]) {
    $(id).addEventListener("input", refilter);
  }
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem("musicrec-api-key", $("api-key").value.trim());
    loadUsers();
  });
  loadHealth();
  loadUsers();
  loadStats();
}

start();
