// The playground: every box asks each loaded model (the served one, and the --compare one beside it) through the
// same JSON API a client uses, and shows the answers side by side.
"use strict";

let MODELS = [];

const $ = (id) => document.getElementById(id);
const lines = (text) => text.split("\n").map((s) => s.trim()).filter((s) => s);
const fixed = (x) => x.toFixed(4);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.detail || response.statusText);
  return answer;
}

// one column per model, filled by render(answer) or an error line
async function columns(out, ask, render) {
  out.replaceChildren();
  await Promise.all(MODELS.map(async (model) => {
    const column = el("div", { class: "column", "data-model": model.id }, el("h3", {}, model.id));
    out.append(column);
    try {
      column.append(...render(await ask(model.id), model.id));
    } catch (error) {
      column.append(el("p", { class: "error" }, error.message));
    }
  }));
}

function pair() {
  return columns($("pair-out"), (model) => post("/similarity", { sentence: $("a").value, candidates: [$("b").value], model }),
    (answer) => [el("div", { class: "score pair-score" }, fixed(answer.scores[0])),
                 el("div", { class: "meta" }, `${answer.took_ms} ms`)]);
}

function many() {
  const candidates = lines($("many").value);
  return columns($("many-out"), (model) => post("/similarity", { sentence: $("one").value, candidates, model }),
    (answer) => {
      const order = answer.scores.map((s, i) => [s, i]).sort((x, y) => y[0] - x[0]);
      return [el("ol", { class: "hits" }, ...order.map(([s, i]) =>
        el("li", {}, el("span", { class: "num" }, fixed(s)), el("span", { class: "text" }, candidates[i]))))];
    });
}

async function search() {
  const documents = lines($("docs").value);
  const body = { query: $("query").value, top_k: Number($("topk").value) || 5 };
  if (documents.length) body.documents = documents;
  const answers = {};
  await columns($("search-out"), async (model) => (answers[model] = await post("/search", { ...body, model })),
    (answer) => [el("ol", { class: "hits" }), el("div", { class: "meta" },
      `${answer.took_ms} ms over ${answer.corpus_size} documents`)]);
  for (const [model, answer] of Object.entries(answers)) markRanks(model, answer, answers);
}

// each hit with its score, and, with a second model, how its rank differs there (↑ better here, new: not in its top-k)
function markRanks(model, answer, answers) {
  const other = Object.keys(answers).find((m) => m !== model);
  const list = document.querySelector(`#search-out .column[data-model="${CSS.escape(model)}"] .hits`);
  for (const hit of answer.hits) {
    const item = el("li", { class: "hit" }, el("span", { class: "num" }, fixed(hit.score)),
      el("span", { class: "text" }, hit.text));
    if (other) {
      const there = answers[other].hits.find((h) => h.index === hit.index);
      const change = there ? there.rank - hit.rank : null;
      const [mark, kind] = change === null ? ["new", "new"] : change > 0 ? [`↑${change}`, "up"]
        : change < 0 ? [`↓${-change}`, "down"] : ["=", "same"];
      item.append(" ", el("span", { class: `rank ${kind}`, title: `rank in ${other}` }, mark));
    }
    list.append(item);
  }
}

function card(model) {
  const results = model.results || {};
  const metric = results.metric;
  const rows = [];
  if (metric && results.before && metric in results.before) rows.push(["before training", metric, results.before[metric]]);
  if (metric && results.best && metric in results.best) rows.push([`best (step ${results.best.step})`, metric, results.best[metric]]);
  for (const [name, value] of Object.entries(results.test || {})) rows.push(["test", name, value]);
  if (!rows.length) return;
  $("scores").replaceChildren(el("tr", {}, el("th", {}, ""), el("th", {}, "metric"), el("th", {}, "score")),
    ...rows.map(([when, name, value]) => el("tr", {}, el("td", {}, when), el("td", {}, name),
      el("td", { class: "num" }, typeof value === "number" ? value.toFixed(2) : String(value)))));
  $("card").hidden = false;
}

async function start() {
  const info = await (await fetch("/info")).json();
  MODELS = info.models;
  $("models").textContent = MODELS.map((m) => `${m.id}: ${m.pooler} pooling, ${m.dimensions} dimensions`).join(" · ")
    + (info.corpus_size ? ` · corpus: ${info.corpus_size} documents` : "");
  card(MODELS[0]);
  $("pair-go").addEventListener("click", pair);
  $("many-go").addEventListener("click", many);
  $("search-go").addEventListener("click", search);
  document.body.dataset.ready = "true";
}

start();
