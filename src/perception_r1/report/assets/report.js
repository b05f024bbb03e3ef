/* Perception-R1 report: lists the embedded rollouts and evaluation items with filters, search and paging.
 * Data: <script id="report-data" type="application/json"> (record keys in perception_r1/report/rollouts.py).
 * Filter state lives in the URL fragment (e.g. #rollouts.failed=1&rollouts.run=0) so a view can be shared.
 * Every text is inserted with textContent: completions are model output and must never become markup. */
(function () {
  "use strict";
  var PAGE = 25; // groups rendered at once; "show more" appends the next page
  var errorBox = document.getElementById("js-errors");

  function reportError(message) {
    errorBox.hidden = false;
    var line = document.createElement("div");
    line.className = "js-error";
    line.textContent = message;
    errorBox.appendChild(line);
    document.documentElement.setAttribute("data-js-errors", String(errorBox.children.length));
  }
  window.addEventListener("error", function (event) {
    reportError("script error: " + event.message);
  });

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function fmt(value) {
    if (value === null || value === undefined || typeof value !== "number" || !isFinite(value)) return "n/a";
    if (value === 0) return "0";
    var abs = Math.abs(value);
    if (abs >= 1e5 || abs < 1e-3) return value.toPrecision(3);
    return String(parseFloat(value.toPrecision(4)));
  }

  function num(text) {
    if (text === "" || text === null || text === undefined) return null;
    var value = Number(text);
    return isFinite(value) ? value : null;
  }

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var FACT_CLASS = { "1": "fact fact-accepted", "0": "fact fact-rejected", "-1": "fact fact-failed" };
  var FACT_WORD = { "1": "accepted", "0": "rejected", "-1": "judge failed" };

  function runHeader(header, rec) {
    var run = data.runs[rec.r] || { label: "run " + rec.r, colour: "#888" };
    var swatch = el("span", "swatch");
    swatch.style.background = run.colour;
    header.appendChild(swatch);
    header.appendChild(el("b", "run-label", run.label));
  }

  function problemLink(id, word) {
    var link = el("span", "pid", word + " " + id);
    link.title = "show this " + word + " across runs";
    link.setAttribute("data-problem", id);
    return link;
  }

  function promptBlock(rec) {
    var box = el("div", "prompt");
    (rec.im || []).forEach(function (index) {
      var image = data.images[index] || {};
      if (image.src) {
        var img = el("img");
        img.alt = image.name || "image";
        img.loading = "lazy";
        img.src = image.src;
        box.appendChild(img);
      } else {
        box.appendChild(el("p", "note", "image " + (image.name || "?") + ": " + (image.why || "not available")));
      }
    });
    var text = data.prompts[rec.p] || "";
    var details = el("details");
    details.appendChild(el("summary", null, "prompt (" + text.length + " characters)"));
    details.appendChild(el("pre", null, text || "(no prompt logged)"));
    box.appendChild(details);
    return box;
  }

  function renderRollout(rec) {
    var box = el("div", "rollout");
    box.setAttribute("data-judge", rec.j);
    if (rec.t !== null && rec.t !== undefined) box.setAttribute("data-total", String(rec.t));
    var scores = el("div", "scores");
    scores.appendChild(el("span", "total", "total " + fmt(rec.t)));
    Object.keys(rec.w || {}).forEach(function (name) {
      var item = el("span", "reward", name + " " + fmt(rec.w[name]));
      item.setAttribute("data-reward", name);
      scores.appendChild(item);
    });
    scores.appendChild(el("span", "advantage", "advantage " + fmt(rec.a)));
    box.appendChild(scores);
    if (rec.f && rec.f.length) {
      var facts = el("ul", "facts");
      rec.f.forEach(function (fact, i) {
        var chip = el("li", FACT_CLASS[String(fact[1])] || "fact fact-failed", fact[0] || "fact " + (i + 1));
        chip.title = (FACT_WORD[String(fact[1])] || "?") + (fact[2] ? ": " + fact[2] : "");
        facts.appendChild(chip);
      });
      box.appendChild(facts);
    }
    if (rec.j === "failed") box.appendChild(el("p", "judge judge-failed", "judge failed: " + (rec.je || "no reason")));
    else if (rec.j === "na") box.appendChild(el("p", "judge", "perception: not applicable (no annotations)"));
    else if (rec.j === "bad") box.appendChild(el("p", "judge judge-bad", "verdicts unreadable: " + rec.je));
    if (rec.x) {
      var tags = Object.keys(rec.x).map(function (k) { return k + "=" + rec.x[k]; });
      box.appendChild(el("p", "tag", tags.join(" · ")));
    }
    box.appendChild(el("pre", "completion", rec.c || "(empty completion)"));
    return box;
  }

  function renderRolloutGroup(recs) {
    var first = recs[0];
    var group = el("article", "group");
    group.setAttribute("data-run", String(first.r));
    group.setAttribute("data-problem", first.g);
    var header = el("header");
    runHeader(header, first);
    header.appendChild(el("span", "step", "step " + (first.s === null ? "?" : first.s)));
    header.appendChild(problemLink(first.g, "problem"));
    header.appendChild(el("span", "tag", recs.length + " rollout(s)"));
    group.appendChild(header);
    group.appendChild(promptBlock(first));
    recs.forEach(function (rec) { group.appendChild(renderRollout(rec)); });
    return group;
  }

  function renderItem(recs) {
    var rec = recs[0];
    var group = el("article", "group item");
    group.setAttribute("data-run", String(rec.r));
    group.setAttribute("data-problem", rec.g);
    var header = el("header");
    runHeader(header, rec);
    header.appendChild(el("span", "bench", rec.b));
    header.appendChild(problemLink(rec.g, "item"));
    var verdict = rec.e ? "error" : rec.ok === true ? "right" : rec.ok === false ? "wrong" : "none";
    var words = { right: "correct", wrong: "wrong", error: "error", none: "not scored" };
    header.appendChild(el("span", "verdict verdict-" + verdict, words[verdict]));
    if (rec.gb) header.appendChild(el("span", "tag", "graded by " + rec.gb));
    group.appendChild(header);
    group.appendChild(promptBlock(rec));
    var body = el("div", "rollout");
    var line = el("div", "scores");
    line.appendChild(el("span", "extracted", "extracted: " + (rec.xa === null ? "(none)" : rec.xa)));
    line.appendChild(el("span", "gold", "gold: " + (rec.gold === null ? "(none)" : rec.gold)));
    body.appendChild(line);
    if (rec.e) body.appendChild(el("p", "judge judge-failed", "error: " + rec.e));
    body.appendChild(el("pre", "completion", rec.c || "(no response)"));
    group.appendChild(body);
    return group;
  }

  function haystack(rec) {
    if (rec._h === undefined) {
      var parts = [data.prompts[rec.p] || "", rec.c || "", rec.g || "", rec.je || "", rec.xa || "", rec.e || "", rec.gold || ""];
      (rec.f || []).forEach(function (f) { parts.push(f[0] || "", f[2] || ""); });
      if (rec.x) Object.keys(rec.x).forEach(function (k) { parts.push(k + "=" + rec.x[k]); });
      parts.push((data.runs[rec.r] || {}).label || "");
      rec._h = parts.join("\n").toLowerCase();
    }
    return rec._h;
  }

  var CHECKS = {
    rollouts: function (rec, s) {
      if (s.smin !== null && (rec.s === null || rec.s < s.smin)) return false;
      if (s.smax !== null && (rec.s === null || rec.s > s.smax)) return false;
      if (s.rmin !== null && (rec.t === null || rec.t < s.rmin)) return false;
      if (s.rmax !== null && (rec.t === null || rec.t > s.rmax)) return false;
      if (s.failed) {
        var failedFact = (rec.f || []).some(function (f) { return f[1] === -1; });
        if (rec.j !== "failed" && !failedFact) return false;
      }
      return true;
    },
    items: function (rec, s) {
      if (s.bench && rec.b !== s.bench) return false;
      if (s.verdict === "right" && !(rec.ok === true && !rec.e)) return false;
      if (s.verdict === "wrong" && !(rec.ok === false && !rec.e)) return false;
      if (s.verdict === "error" && !(rec.e || rec.ok === null)) return false;
      return true;
    }
  };

  function makeList(kind, records, render, sameGroup) {
    var form = document.getElementById(kind + "-filters");
    var list = document.getElementById(kind + "-list");
    var count = document.getElementById(kind + "-count");
    var more = document.getElementById(kind + "-more");
    if (!form || !list) return null;
    var groups = [];
    records.forEach(function (rec) {
      var last = groups[groups.length - 1];
      if (last && sameGroup(last[0], rec)) last.push(rec);
      else groups.push([rec]);
    });
    var visible = [];
    var shown = 0;

    function state() {
      var s = {};
      Array.prototype.forEach.call(form.elements, function (input) {
        if (!input.name || input.type === "button") return;
        if (input.type === "checkbox") s[input.name] = input.checked;
        else if (input.type === "number") s[input.name] = num(input.value);
        else s[input.name] = input.value.trim();
      });
      return s;
    }

    function showMore() {
      var end = Math.min(shown + PAGE, visible.length);
      var fragment = document.createDocumentFragment();
      for (var i = shown; i < end; i++) fragment.appendChild(render(visible[i]));
      list.appendChild(fragment);
      shown = end;
      more.hidden = shown >= visible.length;
      var total = 0;
      visible.forEach(function (g) { total += g.length; });
      count.textContent = "Showing " + shown + " of " + visible.length + " group(s); " + total + " of " +
        records.length + " record(s) match.";
      count.setAttribute("data-matching", String(total));
    }

    function apply() {
      var s = state();
      var query = (s.q || "").toLowerCase();
      var run = s.run === "" || s.run === undefined ? null : Number(s.run);
      visible = [];
      groups.forEach(function (group) {
        var kept = group.filter(function (rec) {
          if (run !== null && rec.r !== run) return false;
          if (s.problem && rec.g !== s.problem) return false;
          if (!CHECKS[kind](rec, s)) return false;
          return !query || haystack(rec).indexOf(query) >= 0;
        });
        if (kept.length) visible.push(kept);
      });
      list.textContent = "";
      shown = 0;
      showMore();
    }

    var timer = null;
    function changed() {
      clearTimeout(timer);
      timer = setTimeout(function () { apply(); saveHash(); }, 120); // typing in the search box: one pass
    }
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.elements.clear.addEventListener("click", function () { form.reset(); apply(); saveHash(); });
    more.addEventListener("click", showMore);
    list.addEventListener("click", function (event) {
      var target = event.target;
      if (target && target.classList && target.classList.contains("pid")) {
        form.elements.problem.value = target.getAttribute("data-problem");
        form.elements.run.value = ""; // "one problem across runs"
        apply();
        saveHash();
        form.scrollIntoView();
      }
    });
    return { kind: kind, form: form, apply: apply };
  }

  var lists = [
    makeList("rollouts", data.rollouts, renderRolloutGroup, function (a, b) {
      return a.r === b.r && a.s === b.s && a.g === b.g;
    }),
    makeList("items", data.items, renderItem, function () { return false; })
  ].filter(Boolean);

  function saveHash() {
    var parts = [];
    lists.forEach(function (view) {
      Array.prototype.forEach.call(view.form.elements, function (input) {
        if (!input.name || input.type === "button") return;
        var value = input.type === "checkbox" ? (input.checked ? "1" : "") : input.value;
        if (value !== "") parts.push(view.kind + "." + input.name + "=" + encodeURIComponent(value));
      });
    });
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
  }

  function loadHash() {
    var hash = location.hash.replace(/^#/, "");
    if (hash.indexOf("=") < 0) return false; // a plain anchor (#charts): keep the current filters
    lists.forEach(function (view) { view.form.reset(); });
    hash.split("&").forEach(function (pair) {
      var eq = pair.indexOf("=");
      var key = pair.slice(0, eq).split(".");
      var value = decodeURIComponent(pair.slice(eq + 1));
      lists.forEach(function (view) {
        var input = view.kind === key[0] ? view.form.elements[key[1]] : null;
        if (!input) return;
        if (input.type === "checkbox") input.checked = value === "1";
        else input.value = value;
      });
    });
    return true;
  }

  window.addEventListener("hashchange", function () {
    if (loadHash()) lists.forEach(function (view) { view.apply(); });
  });
  loadHash();
  lists.forEach(function (view) { view.apply(); });
  document.documentElement.setAttribute("data-render-ms", String(Math.round(performance.now())));
  document.documentElement.setAttribute("data-ready", "1");
})();
