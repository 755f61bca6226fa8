// xmodal's search page: plain JS, no build step, nothing fetched from outside this server.
"use strict";

const PAGE = 30;
const $ = (selector) => document.querySelector(selector);
const results = $("#results");
const status = $("#status");
const viewer = $("#viewer");

// The query being shown: {type: "text", q} | {type: "image", file} | {type: "similar", id}.
let query = null;
let offset = 0;
let exhausted = true;
let loading = false;
let generation = 0; // answers to an older query are dropped

function setStatus(text) {
  status.textContent = text;
}

async function api(url, options = {}) {
  const response = await fetch(url, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    $("#key-form").hidden = false;
    throw new Error("This server needs an API key.");
  }
  if (!response.ok) {
    let reason = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (typeof body.detail === "string") reason = body.detail + (body.hint ? ` (${body.hint})` : "");
    } catch (_) { /* not JSON */ }
    throw new Error(reason);
  }
  return response.json();
}

// Filters and stage switches: the same parameters as the API (and `xmodal search`'s flags).
const FILTERS = ["folder", "after", "before", "camera", "orientation", "sort"];

function filterParams() {
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = $(`#f-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  // Always said, so the page means the same whatever the server's default for `cutoff` is.
  params.set("cutoff", $("#f-cutoff").checked ? "true" : "false");
  return params;
}

function setFilters(params) {
  for (const name of FILTERS) $(`#f-${name}`).value = params.get(name) || "";
  $("#f-cutoff").checked = params.get("cutoff") === "true";
  $("#filters").open = FILTERS.some((name) => params.get(name)) || $("#filters").open;
}

function pageUrl(q) {
  const extra = filterParams().toString();
  const tail = extra ? `&${extra}` : "";
  if (q.type === "text") return `?q=${encodeURIComponent(q.q)}${tail}`;
  if (q.type === "similar") return `?similar=${q.id}${tail}`;
  return location.pathname;
}

function start(q, { push = true } = {}) {
  query = q;
  offset = 0;
  exhausted = false;
  loading = false; // a request still out for the old query is dropped on arrival; it must not block this one
  generation += 1;
  results.replaceChildren();
  $("#more").hidden = true;
  const shown = $("#query-image");
  shown.hidden = q.type !== "image";
  if (q.type === "image") {
    const preview = shown.querySelector("img");
    if (preview.src.startsWith("blob:")) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(q.file);
    shown.querySelector("span").textContent = q.file.name || "pasted image";
    $("#q").value = "";
  } else if (q.type === "text") {
    $("#q").value = q.q;
  }
  if (push) history.pushState(null, "", pageUrl(q));
  loadMore();
}

async function fetchPage(q, from) {
  const params = `k=${PAGE}&offset=${from}&${filterParams()}`;
  if (q.type === "text") return api(`/api/search?q=${encodeURIComponent(q.q)}&${params}`);
  if (q.type === "similar") return api(`/api/media/${q.id}/similar?${params}`);
  const form = new FormData();
  form.append("file", q.file, q.file.name || "pasted.png");
  return api(`/api/search/image?${params}`, { method: "POST", body: form });
}

async function loadMore() {
  if (!query || loading || exhausted) return;
  loading = true;
  const mine = generation;
  if (offset === 0) setStatus("Searching…");
  try {
    const page = await fetchPage(query, offset);
    if (mine !== generation) return;
    page.hits.forEach((hit) => results.append(card(hit)));
    offset += page.hits.length;
    exhausted = page.next_offset === null;
    // Weak matches hidden at the user's asking: offer them rather than hide that there are more.
    $("#more").hidden = !(exhausted && isTextQuery() && $("#f-cutoff").checked);
    const total = results.children.length;
    setStatus(total === 0 ? "Nothing found." : `${total} result${total === 1 ? "" : "s"}${exhausted ? "" : "+"} · ${page.took_ms} ms`);
  } catch (error) {
    if (mine === generation) {
      exhausted = true;
      setStatus(error.message);
    }
  } finally {
    if (mine === generation) loading = false;
  }
  if (mine === generation && !exhausted && sentinelVisible()) loadMore();
}

function isTextQuery() {
  return query !== null && query.type === "text";
}

function sentinelVisible() {
  return $("#sentinel").getBoundingClientRect().top < window.innerHeight + 400;
}

// Seconds as a player shows them: 01:23, or 1:02:03 past an hour.
function clock(seconds) {
  const whole = Math.floor(seconds);
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor(whole / 60) % 60, whole % 60];
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${two(m)}:${two(s)}`;
}

function span(moment) {
  return `${clock(moment.start)}–${clock(moment.end)}`;
}

function card(hit) {
  const item = document.createElement("li");
  item.className = hit.kind === "video" ? "card video" : "card";
  item.dataset.id = hit.id;
  const open = document.createElement("button");
  open.className = "open";
  open.type = "button";
  open.title = hit.path;
  const img = document.createElement("img");
  img.loading = "lazy";
  img.alt = hit.name;
  img.src = `${hit.thumbnail_url}?size=256`;
  open.append(img);
  open.addEventListener("click", () => show(hit));
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = hit.name;
  const score = document.createElement("span");
  score.className = "score";
  score.textContent = hit.score === null ? "–" : hit.score.toFixed(3);
  score.title = `ranking score (the order of this list); cosine similarity ${hit.cosine.toFixed(3)}`;
  const similar = document.createElement("button");
  similar.className = "similar";
  similar.type = "button";
  similar.textContent = "More like this";
  similar.addEventListener("click", () => start({ type: "similar", id: hit.id }));
  meta.append(name);
  if (hit.kind === "video") {
    // The moment found, on its thumbnail; the video's other moments in the list are under this one card.
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = `▶ ${span(hit)}`;
    badge.title = `a moment of a ${clock(hit.duration || 0)} video`;
    open.append(badge);
    const others = (hit.moments || []).length;
    if (others) {
      const more = document.createElement("span");
      more.className = "more-moments";
      more.textContent = `+${others} more moment${others === 1 ? "" : "s"}`;
      meta.append(more);
    }
  }
  meta.append(score, similar);
  item.append(open, meta);
  if (hit.words) {
    // The words read in the picture: what a word search matched, where the picture alone would not say.
    const words = document.createElement("p");
    words.className = "words";
    words.textContent = hit.words.replace(/\s+/g, " ");
    words.title = hit.words;
    item.append(words);
  }
  return item;
}

function addRow(label, value) {
  if (!value) return;
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  $("#viewer-meta").append(dt, dd);
}

// The viewer's video: the moment's start once the player knows the video's length, then play. (Chromium honours
// a #t=start,end fragment too, but pauses at its end, and a later seek to another moment should play on.)
const player = $("#viewer-video");

function stopVideo() {
  if (!player.hasAttribute("src")) return;
  player.pause();
  player.onloadedmetadata = null;
  player.removeAttribute("src");
  player.load(); // drops the connection a paused video keeps open
}

function seek(seconds) {
  player.currentTime = seconds;
  player.play().catch(() => { /* the user presses play: a browser may refuse to start without a click */ });
}

function playMoment(hit) {
  player.onloadedmetadata = () => seek(hit.start);
  player.src = hit.file_url;
  const moments = [hit, ...(hit.moments || [])].sort((a, b) => a.start - b.start);
  const list = $("#viewer-moments");
  list.replaceChildren();
  for (const moment of moments) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "moment";
    button.textContent = span(moment);
    button.title = `cosine similarity ${moment.cosine.toFixed(3)}`;
    if (moment.id === hit.id) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => {
      list.querySelectorAll("button[aria-current]").forEach((b) => b.removeAttribute("aria-current"));
      button.setAttribute("aria-current", "true");
      similarTo(moment.id);
      seek(moment.start);
    });
    li.append(button);
    list.append(li);
  }
  $("#viewer-moments-box").hidden = false;
}

function similarTo(id) {
  $("#viewer-similar").onclick = () => {
    viewer.close();
    start({ type: "similar", id });
  };
}

async function show(hit) {
  const id = hit.id;
  const isVideo = hit.kind === "video";
  const image = $("#viewer-image");
  image.hidden = isVideo;
  player.hidden = !isVideo;
  $("#viewer-moments-box").hidden = true;
  if (isVideo) {
    image.removeAttribute("src");
    playMoment(hit);
  } else {
    stopVideo();
    image.src = `/api/media/${id}/thumbnail?size=1024`;
  }
  $("#viewer-name").textContent = "";
  $("#viewer-meta").replaceChildren();
  $("#viewer-texts").replaceChildren();
  $("#viewer-file").href = hit.play_url || hit.file_url || `/api/media/${id}/file`; // a video: at the moment
  similarTo(id);
  if (!viewer.open) viewer.showModal();
  try {
    const media = await api(`/api/media/${id}`);
    image.alt = media.name;
    $("#viewer-name").textContent = media.name;
    addRow("Folder", media.folder);
    if (media.media_type === "video") {
      addRow("Moment", media.start === null ? null : span(media));
      addRow("Length", media.duration ? clock(media.duration) : null);
    }
    addRow("Size", media.width && media.height ? `${media.width} × ${media.height}` : null);
    addRow("File", `${media.format || "?"}, ${(media.size / 1024).toFixed(0)} KiB`);
    addRow("RAW", media.companion ? media.companion.split("/").pop() : null); // RAW+JPEG: the camera's RAW beside it
    addRow("Taken", media.taken_at);
    addRow("Camera", [media.camera_make, media.camera_model].filter(Boolean).join(" ") || null);
    addRow("Words in it", media.words);
    const texts = await api(`/api/media/${id}/texts?k=5`);
    for (const hit of texts.hits) {
      const li = document.createElement("li");
      li.textContent = `${hit.text} `;
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = hit.score === null ? "–" : hit.score.toFixed(3);
      score.title = `cosine similarity ${hit.cosine.toFixed(3)}`;
      li.append(score);
      $("#viewer-texts").append(li);
    }
    if (!texts.hits.length) $("#viewer-texts").textContent = "No texts in the library yet.";
  } catch (error) {
    $("#viewer-name").textContent = error.message;
  }
}

function searchImage(file) {
  if (!file || !file.type.startsWith("image/")) {
    setStatus("That is not a picture: drop or paste a JPEG, PNG, WebP, GIF or HEIC image.");
    return;
  }
  start({ type: "image", file });
}

function fromLocation() {
  const params = new URLSearchParams(location.search);
  setFilters(params);
  if (params.get("q")) start({ type: "text", q: params.get("q") }, { push: false });
  else if (/^\d+$/.test(params.get("similar") || "")) start({ type: "similar", id: Number(params.get("similar")) }, { push: false });
}

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("#q").value.trim();
  if (q) start({ type: "text", q });
});
$("#filter-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (query) start(query);
});
$("#show-all").addEventListener("click", () => {
  $("#f-cutoff").checked = false;
  if (query) start(query);
});
$("#file").addEventListener("change", (event) => searchImage(event.target.files[0]));
$("#clear-image").addEventListener("click", () => {
  $("#query-image").hidden = true;
  query = null;
  results.replaceChildren();
  setStatus("");
  history.pushState(null, "", location.pathname);
});
$("#key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  document.cookie = `xmodal_api_key=${encodeURIComponent($("#key").value)}; path=/; SameSite=Strict`;
  $("#key-form").hidden = true;
  loadFooter();
  if (query) start(query, { push: false });
});

// Drag and drop anywhere, and paste.
let dragDepth = 0;
window.addEventListener("dragenter", (event) => {
  if (![...event.dataTransfer.types].includes("Files")) return;
  dragDepth += 1;
  $("#drop-overlay").hidden = false;
});
window.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) $("#drop-overlay").hidden = true;
});
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => {
  event.preventDefault();
  dragDepth = 0;
  $("#drop-overlay").hidden = true;
  searchImage(event.dataTransfer.files[0]);
});
window.addEventListener("paste", (event) => {
  const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
  if (file) {
    event.preventDefault();
    searchImage(file);
  }
});
viewer.addEventListener("close", stopVideo);
window.addEventListener("popstate", () => {
  if (viewer.open) viewer.close();
  fromLocation();
});

new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadMore();
}, { rootMargin: "400px" }).observe($("#sentinel"));

async function loadFooter() {
  try {
    const stats = await api("/api/stats");
    const videos = stats.videos ? ` · ${stats.videos.toLocaleString()} videos (${stats.moments.toLocaleString()} moments)` : "";
    $("#footer").textContent = `${stats.images.toLocaleString()} images${videos} · ${stats.texts.toLocaleString()} texts · ${stats.model || "no model yet"}`;
  } catch (error) {
    $("#footer").textContent = error.message;
  }
}

loadFooter();
fromLocation();
