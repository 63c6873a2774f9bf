// Berth's dashboard: the little that needs a script. Every page works
// without it except the live log, which is a script by nature; the
// Metrics tab without it simply does not refresh itself.
"use strict";

// Scale steppers: − and + change the number beside them.
document.querySelectorAll("button.step").forEach((button) => {
  button.addEventListener("click", () => {
    const input = document.getElementById(button.dataset.target);
    const next = Math.max(0, (parseInt(input.value, 10) || 0) + parseInt(button.dataset.step, 10));
    input.value = String(Math.min(next, parseInt(input.max, 10) || next));
  });
});

// Config values stay hidden until asked for.
const reveal = document.getElementById("reveal-all");
if (reveal) {
  reveal.addEventListener("click", () => {
    const hiding = reveal.dataset.shown === "true";
    document.querySelectorAll("#config .revealed").forEach((el) => el.classList.toggle("hidden", hiding));
    document.querySelectorAll("#config .concealed").forEach((el) => el.classList.toggle("hidden", !hiding));
    reveal.dataset.shown = hiding ? "false" : "true";
    reveal.textContent = hiding ? "Reveal values" : "Hide values";
  });
}

// The live log: the API's server-sent events, filtered, pausable, and
// bounded so that thousands of lines never slow the page down.
const filters = document.getElementById("log-filters");
if (filters) {
  const MAX_LINES = 2000;
  const log = document.getElementById("log");
  const state = document.getElementById("log-state");
  const pauseButton = document.getElementById("log-pause");
  const liveButton = document.getElementById("log-live");
  let source = null;
  let paused = false;
  let held = [];

  const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const setState = (text) => { state.textContent = text; };

  const render = (entries) => {
    const follow = atBottom();
    const fragment = document.createDocumentFragment();
    for (const entry of entries) {
      const line = document.createElement("div");
      line.className = "log-line log-" + entry.source;
      const at = document.createElement("span");
      at.className = "log-at";
      at.textContent = entry.at.replace("T", " ").slice(0, 23) + " ";
      const who = document.createElement("span");
      who.className = "log-who";
      who.textContent = entry.source + "[" + entry.dyno + "]: ";
      line.append(at, who, document.createTextNode(entry.message));
      fragment.append(line);
    }
    log.append(fragment);
    while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
    if (follow) log.scrollTop = log.scrollHeight;
  };

  // Lines arriving in a burst are drawn once per frame.
  let pending = [];
  let scheduled = false;
  const enqueue = (entry) => {
    if (paused) {
      held.push(entry);
      if (held.length > MAX_LINES) held = held.slice(-MAX_LINES);
      return;
    }
    pending.push(entry);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(() => { scheduled = false; render(pending); pending = []; });
    }
  };

  const connect = () => {
    if (source) source.close();
    log.textContent = "";
    const params = new URLSearchParams({ tail: "true", lines: "200" });
    for (const [key, value] of new FormData(filters)) {
      if (value) params.set(key, value);
    }
    source = new EventSource("/api/v1/apps/" + encodeURIComponent(filters.dataset.app) + "/logs?" + params);
    source.onopen = () => setState(paused ? "paused" : "live");
    source.onmessage = (event) => enqueue(JSON.parse(event.data));
    source.onerror = () => setState("reconnecting…");
  };

  filters.addEventListener("change", connect);
  filters.addEventListener("submit", (event) => { event.preventDefault(); connect(); });
  pauseButton.addEventListener("click", () => {
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    setState(paused ? "paused" : "live");
    if (!paused) { render(held); held = []; }
  });
  log.addEventListener("scroll", () => liveButton.classList.toggle("hidden", atBottom()));
  liveButton.addEventListener("click", () => {
    if (paused) pauseButton.click();
    log.scrollTop = log.scrollHeight;
    liveButton.classList.add("hidden");
  });
  connect();
}

// The Metrics tab refreshes its charts every 10 s while it is visible: the
// same page with `fragment=charts` answers the charts' container alone.
const charts = document.getElementById("metrics-charts");
if (charts) {
  const REFRESH_MS = 10000;
  const url = new URL(window.location.href);
  url.searchParams.set("fragment", "charts");
  let timer = null;
  let fetching = false;

  const schedule = () => {
    if (timer === null && !fetching && document.visibilityState === "visible") {
      timer = setTimeout(refresh, REFRESH_MS);
    }
  };
  const refresh = async () => {
    timer = null;
    fetching = true;
    try {
      const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      // Signed out (redirected to sign in) or the app is gone: stop here.
      if (!response.ok || response.redirected) return;
      const holder = document.createElement("template");
      holder.innerHTML = await response.text();
      const next = holder.content.getElementById("metrics-charts");
      if (next) document.getElementById("metrics-charts").replaceWith(next);
    } catch (_) {
      // A network blip: the next tick tries again.
    } finally {
      fetching = false;
    }
    schedule();
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") {
      clearTimeout(timer);
      timer = null;
    } else if (timer === null && !fetching) {
      refresh();
    }
  });
  schedule();
}

// A form that takes as long as a deploy (a promotion) says it is at work
// and cannot be sent twice.
document.querySelectorAll("form[data-busy]").forEach((form) => {
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    if (button) {
      button.disabled = true;
      button.textContent = form.dataset.busy;
    }
  });
});

// Live state: the overview's current release and dynos, and the releases
// page's deploy in progress, arrive as server-sent events. A stream the
// server ended (access lost, too many pages open) says so and stays closed.
const openStream = (url, onState) => {
  const source = new EventSource(url);
  source.onopen = () => onState("live");
  source.onerror = () => onState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
  // Leaving the page frees its connection at once (browsers allow few per site).
  window.addEventListener("pagehide", () => source.close());
  return source;
};

const liveState = document.getElementById("live-state");
if (liveState) {
  const line = liveState.parentElement;
  line.classList.remove("hidden");
  const words = {
    live: "Live: this page updates by itself",
    reconnecting: "Reconnecting…",
    closed: "Not live any more: reload the page",
  };
  const source = openStream(liveState.dataset.stream, (state) => {
    liveState.textContent = words[state];
    line.classList.toggle("is-live", state === "live");
    line.classList.toggle("is-down", state !== "live");
  });
  // The server renders these as it renders the page, escaped; a part is
  // replaced only when it changed, so a button is not swapped under a click.
  const shown = {};
  source.addEventListener("state", (event) => {
    const state = JSON.parse(event.data);
    for (const [id, html] of [["live-release", state.release_html], ["live-dynos", state.dynos_html]]) {
      if (shown[id] === html) continue;
      document.getElementById(id).innerHTML = html;
      shown[id] = html;
    }
  });
}

const deployLive = document.getElementById("deploy-live");
if (deployLive) {
  const MAX_LINES = 2000;
  const what = document.getElementById("deploy-what");
  const phase = document.getElementById("deploy-phase");
  const elapsed = document.getElementById("deploy-elapsed");
  const output = document.getElementById("deploy-output");
  const outcome = document.getElementById("deploy-outcome");
  let startedAt = null;
  let ticker = null;

  const showElapsed = () => {
    const seconds = Math.max(0, Math.round((Date.now() - startedAt) / 1000));
    elapsed.textContent = seconds < 60 ? seconds + "s" : Math.floor(seconds / 60) + "m " + (seconds % 60) + "s";
  };
  // Whether the list shows the deploy's release settled already: the
  // deploy ended before the page was made, and the list is as it stays.
  const listShowsSettled = (release) => {
    const row = release === null ? null : document.getElementById("v" + release);
    return row !== null && row.dataset.status !== "pending";
  };
  // The list of releases, fetched again once a deploy has ended.
  const refreshList = async () => {
    try {
      const response = await fetch(window.location.pathname, { cache: "no-store", credentials: "same-origin" });
      if (!response.ok || response.redirected) return;
      const holder = document.createElement("template");
      holder.innerHTML = await response.text();
      const next = holder.content.getElementById("releases-list");
      const current = document.getElementById("releases-list");
      if (next && current) current.replaceWith(next);
    } catch (_) {
      // The list stays as it was; a reload shows the new one.
    }
  };

  const source = openStream(deployLive.dataset.stream, () => {});
  source.addEventListener("deploy", (event) => {
    const deploy = JSON.parse(event.data);
    if (deploy.begins) {
      deployLive.classList.remove("hidden");
      output.textContent = "";
      outcome.className = "pad hidden";
      what.textContent = deploy.what;
      startedAt = Date.parse(deploy.started_at);
      clearInterval(ticker);
      ticker = setInterval(showElapsed, 1000);
      showElapsed();
    }
    phase.textContent = deploy.phase;
    phase.className = "badge badge-" + (deploy.phase === "released" ? "succeeded" : deploy.phase === "failed" ? "failed" : "pending");
    const follow = output.scrollHeight - output.scrollTop - output.clientHeight < 40;
    if (deploy.skipped > 0) output.append("… " + deploy.skipped + " earlier lines not shown\n");
    // A text node per line, so the page keeps a bounded number of them.
    for (const text of deploy.lines) output.append(text + "\n");
    while (output.childNodes.length > MAX_LINES) output.firstChild.remove();
    if (follow) output.scrollTop = output.scrollHeight;
    if (deploy.outcome !== null) {
      clearInterval(ticker);
      showElapsed();
      outcome.textContent = deploy.failed ? "Failed: " + deploy.outcome : deploy.outcome;
      outcome.className = "pad " + (deploy.failed ? "failed" : "released");
      if (!listShowsSettled(deploy.release)) refreshList();
    }
  });
}

// A form that changes something hard to undo asks first: `data-confirm` is
// the question. Asked in the capture phase, so a form that is not sent
// never turns busy.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// Domains: a PEM file chosen is read into the textarea the form sends. The
// file inputs stay hidden without JS, where the textareas take a paste.
document.querySelectorAll("input.pem-file").forEach((input) => {
  const target = input.form.elements[input.dataset.fills];
  if (!target) return;
  input.classList.remove("hidden");
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    if (file.size > target.maxLength) {
      input.setCustomValidity("The file is larger than 64 KiB: is it a PEM file?");
      input.reportValidity();
      return;
    }
    input.setCustomValidity("");
    target.value = await file.text();
  });
});

// The tabs' scroll hint, and the live log's waiting note and search.

// The tabs scroll sideways within themselves on a narrow screen: a fade
// at an edge says more tabs lie that way, and the open tab is in view.
document.querySelectorAll(".tabs").forEach((tabs) => {
  const hint = () => {
    const hidden = tabs.scrollWidth - tabs.clientWidth;
    tabs.classList.toggle("more-before", tabs.scrollLeft > 1);
    tabs.classList.toggle("more-after", tabs.scrollLeft < hidden - 1);
  };
  // Clear of the 3rem fade too: centred when it would sit under it.
  const active = tabs.querySelector(".active");
  if (active && active.offsetLeft + active.offsetWidth > tabs.clientWidth - 48) {
    tabs.scrollLeft = active.offsetLeft - (tabs.clientWidth - active.offsetWidth) / 2;
  }
  tabs.addEventListener("scroll", hint, { passive: true });
  window.addEventListener("resize", hint);
  hint();
});

// The live log says it waits while it is empty, and its search hides the
// lines on the page that do not contain the text (new ones as they come).
const logLines = document.getElementById("log");
const logSearch = document.getElementById("log-search");
const logWaiting = document.getElementById("log-waiting");
if (logLines && logSearch && logWaiting) {
  const refresh = (lines) => {
    const needle = logSearch.value.trim().toLowerCase();
    for (const line of lines) {
      line.classList.toggle("log-miss", needle !== "" && !line.textContent.toLowerCase().includes(needle));
    }
    const total = logLines.childElementCount;
    const shown = needle === "" ? total : logLines.querySelectorAll(".log-line:not(.log-miss)").length;
    logWaiting.textContent = total === 0
      ? "Waiting for lines…"
      : "No line on the page contains “" + logSearch.value.trim() + "”.";
    logWaiting.classList.toggle("hidden", shown > 0);
  };
  new MutationObserver((records) => {
    refresh(records.flatMap((record) => [...record.addedNodes]).filter((node) => node.nodeType === 1));
  }).observe(logLines, { childList: true });
  logSearch.addEventListener("input", () => refresh(logLines.children));
  // The search is not one of the stream's filters: typing in it reconnects nothing.
  logSearch.addEventListener("change", (event) => event.stopPropagation());
  logSearch.addEventListener("keydown", (event) => {
    if (event.key === "Enter") event.preventDefault();
  });
  refresh([]);
}
