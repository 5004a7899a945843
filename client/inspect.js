/*
 * tunnel-client inspector page.  Plain JavaScript, no libraries: the list
 * comes from /api/requests and stays live through /api/events; a click
 * loads /api/requests/ID.  Captured data only ever goes into the page as
 * text (textContent), never as markup.
 */
"use strict";

(function () {
  var token = document.querySelector('meta[name="inspector-token"]')
    .getAttribute("content");
  var rows = document.getElementById("rows");
  var empty = document.getElementById("empty");
  var detail = document.getElementById("detail");
  var filter = document.getElementById("filter");
  var live = document.getElementById("live");
  var entries = new Map();	/* id -> summary */
  var selected = 0;
  var shownState = "";		/* state of the selected one when shown */
  var compareWith = 0;		/* replay shown beside the selected one */

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function size(n) {
    if (n === undefined || n === null) return "";
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
    return (n / 1048576).toFixed(1) + " MiB";
  }

  function ms(v) {
    if (v === undefined || v === null) return "";
    if (v < 1) return v.toFixed(2) + " ms";
    if (v < 1000) return v.toFixed(1) + " ms";
    return (v / 1000).toFixed(2) + " s";
  }

  function clock(t, millis) {
    var d = new Date(t);
    function p(n, w) { n = String(n); while (n.length < w) n = "0" + n; return n; }
    var s = p(d.getHours(), 2) + ":" + p(d.getMinutes(), 2) + ":" +
      p(d.getSeconds(), 2);
    return millis ? s + "." + p(d.getMilliseconds(), 3) : s;
  }

  function statusEl(s) {
    if (s.state !== "done" && !s.status) return el("span", "st pend", "…");
    if (!s.status) return el("span", "st bad", s.error ? "error" : "—");
    var e = el("span", "st s" + String(s.status).charAt(0), s.status);
    if (s.state === "done" && !s.complete) e.title = s.error || "cut short";
    return e;
  }

  function api(path, opts) {
    opts = opts || {};
    if (opts.method === "POST") {
      opts.headers = Object.assign({ "X-Inspector-Token": token,
        "Content-Type": "application/json" }, opts.headers || {});
    }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
        return j;
      });
    });
  }

  /* --- the list ------------------------------------------------------ */

  function matches(s) {
    var f = filter.value.trim().toLowerCase();
    if (!f) return true;
    return (s.method + " " + s.path + " " + (s.status || "")).toLowerCase()
      .indexOf(f) >= 0;
  }

  function rowFor(s) {
    var tr = el("tr", "row");
    tr.dataset.id = s.id;
    tr.tabIndex = 0;
    tr.appendChild(el("td", "c-time", clock(s.time_ms, false)))
      .title = s.time;
    tr.appendChild(el("td", "c-method", s.method));
    var p = el("td", "c-path");
    if (s.replay_of) {
      p.appendChild(el("span", "tag", "replay")).title = "replay of #" +
        s.replay_of;
    }
    p.appendChild(document.createTextNode(s.path));
    p.title = s.path;
    tr.appendChild(p);
    var st = el("td", "c-status");
    st.appendChild(statusEl(s));
    tr.appendChild(st);
    tr.appendChild(el("td", "c-dur", s.state === "done" ? ms(s.duration_ms) : ""));
    tr.appendChild(el("td", "c-size", s.state === "done" ? size(s.response_size) : ""));
    if (s.id === selected) tr.classList.add("sel");
    if (!matches(s)) tr.hidden = true;
    return tr;
  }

  function upsert(s) {
    var old = rows.querySelector('tr[data-id="' + s.id + '"]');
    entries.set(s.id, s);
    var tr = rowFor(s);
    if (old) {
      rows.replaceChild(tr, old);
    } else {
      /* newest first: before the first row with a smaller id */
      var at = null;
      for (var r = rows.firstElementChild; r; r = r.nextElementSibling) {
        if (Number(r.dataset.id) < s.id) { at = r; break; }
      }
      rows.insertBefore(tr, at);
    }
    empty.hidden = entries.size > 0;
    if (s.id === selected && s.state !== shownState) show(selected);
    if (s.id === compareWith && s.state === "done") show(selected);
  }

  function clearAll() {
    entries.clear();
    rows.textContent = "";
    empty.hidden = false;
    selected = 0;
    compareWith = 0;
    detail.hidden = true;
    detail.textContent = "";
  }

  /* The whole list again (at start, after a reconnect); keeps the detail. */
  function load() {
    return api("/api/requests").then(function (j) {
      entries.clear();
      rows.textContent = "";
      j.requests.slice().reverse().forEach(upsert);
      empty.hidden = entries.size > 0;
    }).catch(function () {});
  }

  rows.addEventListener("click", function (ev) {
    var tr = ev.target.closest("tr.row");
    if (tr) select(Number(tr.dataset.id));
  });
  rows.addEventListener("keydown", function (ev) {
    var tr = ev.target.closest("tr.row");
    if (!tr) return;
    if (ev.key === "Enter") select(Number(tr.dataset.id));
    if (ev.key === "ArrowDown" && tr.nextElementSibling) tr.nextElementSibling.focus();
    if (ev.key === "ArrowUp" && tr.previousElementSibling) tr.previousElementSibling.focus();
  });
  filter.addEventListener("input", function () {
    for (var r = rows.firstElementChild; r; r = r.nextElementSibling) {
      var s = entries.get(Number(r.dataset.id));
      r.hidden = !s || !matches(s);
    }
  });
  document.getElementById("clear").addEventListener("click", function () {
    api("/api/requests/clear", { method: "POST", body: "{}" })
      .then(clearAll).catch(function (e) { alert("Clear failed: " + e.message); });
  });

  function select(id) {
    selected = id;
    compareWith = 0;
    var prev = rows.querySelector("tr.sel");
    if (prev) prev.classList.remove("sel");
    var tr = rows.querySelector('tr[data-id="' + id + '"]');
    if (tr) tr.classList.add("sel");
    show(id);
  }

  /* --- one exchange ---------------------------------------------------- */

  function headersTable(h) {
    if (!h || h.length === 0) return el("p", "none", "no headers");
    var t = el("table", "hdrs");
    h.forEach(function (kv) {
      var tr = el("tr");
      tr.appendChild(el("td", "n", kv[0]));
      tr.appendChild(el("td", "v", kv[1]));
      t.appendChild(tr);
    });
    return t;
  }

  function imageType(ct) {
    var m = (ct || "").split(";")[0].trim().toLowerCase();
    return /^image\/(png|jpeg|gif|webp|bmp|x-icon|vnd\.microsoft\.icon|avif)$/
      .test(m) ? m : "image/png";
  }

  function bodyBlock(b, id, part) {
    var box = el("div", "bodybox");
    var h = el("h4");
    h.appendChild(document.createTextNode("Body"));
    if (!b) {
      h.appendChild(el("span", "meta", "(when the exchange is over)"));
      box.appendChild(h);
      return box;
    }
    var meta = b.kind + (b.content_type ? ", " + b.content_type : "") +
      ", " + size(b.size);
    h.appendChild(el("span", "meta", meta));
    if (b.kept > 0) {
      var a = el("a", null, "download");
      a.href = "/api/requests/" + id + "/" + part + "-body";
      a.setAttribute("download", part + "-" + id + ".bin");
      h.appendChild(a);
    }
    box.appendChild(h);
    if (b.truncated) {
      box.appendChild(el("p", "note", "Only the first " + size(b.kept) +
        " of " + size(b.size) + " were kept."));
    }
    var v;
    switch (b.kind) {
    case "empty":
      v = el("p", "none", "no body");
      break;
    case "json":
    case "text":
      v = el("pre", "body " + b.kind, b.text);
      break;
    case "form":
      v = el("div");
      var t = el("table", "hdrs form");
      b.form.forEach(function (kv) {
        var tr = el("tr");
        tr.appendChild(el("td", "n", kv[0]));
        tr.appendChild(el("td", "v", kv[1]));
        t.appendChild(tr);
      });
      v.appendChild(t);
      v.appendChild(el("h4", null, "Raw"));
      v.appendChild(el("pre", "body", b.text));
      break;
    case "image":
      v = el("img", "body");
      v.alt = "image body, " + size(b.kept);
      v.src = "data:" + imageType(b.content_type) + ";base64," + b.base64;
      break;
    default:
      v = el("div");
      v.appendChild(el("pre", "body hex", b.hex));
      if (b.hex_truncated) {
        v.appendChild(el("p", "note", "The dump shows the first 64 KiB."));
      }
    }
    box.appendChild(v);
    return box;
  }

  /* One side of an exchange; compact: headers folded, bodies shorter. */
  function side(title, s, part, compact) {
    var c = el("div", "card " + part + (compact ? " compact" : ""));
    c.appendChild(el("h3", null, title));
    var hs = s[part].headers;
    if (part === "response" && !hs) {
      c.appendChild(el("p", "none", s.error ? s.error : "waiting for the response"));
      return c;
    }
    if (compact) {
      var d = el("details");
      d.appendChild(el("summary", null, "Headers (" + hs.length + ")"));
      d.appendChild(headersTable(hs));
      c.appendChild(d);
    } else {
      c.appendChild(el("h4", null, "Headers"));
      c.appendChild(headersTable(hs));
    }
    c.appendChild(bodyBlock(s[part].body, s.id, part));
    return c;
  }

  function timing(s) {
    var t = el("div", "timing");
    function item(label, value) {
      var e = el("span");
      e.appendChild(document.createTextNode(label + " "));
      e.appendChild(el("b", null, value));
      t.appendChild(e);
    }
    item("started", clock(s.time_ms, true));
    if (s.timing.head_ms !== null) item("response head after", ms(s.timing.head_ms));
    if (s.timing.total_ms !== null) item("total", ms(s.timing.total_ms));
    if (s.state === "done") {
      item("request", size(s.request_size));
      item("response", size(s.response_size));
    }
    if (s.tunnel) item("tunnel", s.tunnel);
    return t;
  }

  function show(id) {
    return api("/api/requests/" + id).then(function (s) {
      if (id !== selected) return;
      shownState = s.state;
      render(s);
    }).catch(function (e) {
      if (id !== selected) return;
      detail.hidden = false;
      detail.textContent = "";
      detail.appendChild(el("p", "error", e.message));
    });
  }

  function render(s) {
    detail.hidden = false;
    detail.textContent = "";
    var h = el("h2");
    h.appendChild(el("span", "method", s.method));
    h.appendChild(el("span", "path", s.path));
    h.appendChild(statusEl(s));
    if (s.replay_of) {
      var tag = el("span", "tag", "replay of #" + s.replay_of);
      h.appendChild(tag);
    }
    detail.appendChild(h);
    detail.appendChild(timing(s));
    if (s.error) detail.appendChild(el("p", "error", s.error));
    var acts = el("div", "actions");
    var rb = el("button", "primary", "Replay");
    rb.id = "replay";
    rb.type = "button";
    rb.disabled = s.state !== "done";
    var eb = el("button", null, "Edit and replay");
    eb.id = "edit";
    eb.type = "button";
    eb.disabled = s.state !== "done";
    var msg = el("span", "msg");
    acts.appendChild(rb);
    acts.appendChild(eb);
    acts.appendChild(msg);
    detail.appendChild(acts);
    rb.addEventListener("click", function () { replay(s, null, msg); });
    eb.addEventListener("click", function () { editForm(s, acts, msg); });
    var sides = el("div", "sides");
    sides.appendChild(side("Request", s, "request"));
    sides.appendChild(side("Response", s, "response"));
    detail.appendChild(sides);
    if (compareWith) compare(s, compareWith);
  }

  function replay(s, edits, msg) {
    msg.className = "msg";
    msg.textContent = "sending…";
    return api("/api/requests/" + s.id + "/replay", {
      method: "POST", body: edits ? JSON.stringify(edits) : ""
    }).then(function (r) {
      msg.textContent = "";
      upsert(r);
      compareWith = r.id;
      show(s.id);
    }).catch(function (e) {
      msg.className = "msg bad";
      msg.textContent = "Replay failed: " + e.message;
    });
  }

  function compare(orig, id) {
    api("/api/requests/" + id).then(function (r) {
      if (selected !== orig.id || compareWith !== id) return;
      var old = detail.querySelector(".compare");
      if (old) old.remove();
      var box = el("section", "compare");
      var h = el("h3");
      h.appendChild(document.createTextNode("Replay "));
      var a = el("a", null, "#" + r.id);
      a.addEventListener("click", function () { select(r.id); });
      h.appendChild(a);
      h.appendChild(document.createTextNode(" of #" + orig.id + ": "));
      h.appendChild(statusEl(r));
      box.appendChild(h);
      box.appendChild(timing(r));
      if (r.error) box.appendChild(el("p", "error", r.error));
      var sides = el("div", "sides");
      sides.appendChild(side("Original response (#" + orig.id + ")", orig,
        "response", true));
      sides.appendChild(side("Replay response (#" + r.id + ")", r,
        "response", true));
      box.appendChild(sides);
      detail.insertBefore(box, detail.querySelector(".sides"));
    });
  }

  function editForm(s, acts, msg) {
    var old = detail.querySelector("form.edit");
    if (old) { old.remove(); return; }
    var f = el("form", "edit");
    var r2 = el("div", "row2");
    var lm = el("label", null, "Method");
    var im = el("input");
    im.name = "method";
    im.value = s.method;
    lm.appendChild(im);
    var lp = el("label", null, "Path");
    var ip = el("input");
    ip.name = "path";
    ip.value = s.path;
    lp.appendChild(ip);
    r2.appendChild(lm);
    r2.appendChild(lp);
    f.appendChild(r2);
    var lh = el("label", null, "Headers, one \"Name: value\" a line");
    var th = el("textarea");
    th.name = "headers";
    th.value = (s.request.headers || []).map(function (kv) {
      return kv[0] + ": " + kv[1];
    }).join("\n");
    lh.appendChild(th);
    f.appendChild(lh);
    var b = s.request.body || { kind: "empty" };
    var textual = b.kind === "json" || b.kind === "text" ||
      b.kind === "form" || b.kind === "empty";
    var keep = el("label", "check");
    var ck = el("input");
    ck.type = "checkbox";
    ck.checked = !textual || b.truncated;
    keep.appendChild(ck);
    keep.appendChild(document.createTextNode(textual && !b.truncated ?
      "Send the captured body unchanged" :
      "Send the captured body unchanged (" + b.kind + ", " + size(b.size) + ")"));
    f.appendChild(keep);
    var lb = el("label", null, "Body");
    var tb = el("textarea");
    tb.name = "body";
    tb.value = textual && b.text !== undefined ? b.text : "";
    tb.disabled = ck.checked;
    lb.appendChild(tb);
    f.appendChild(lb);
    ck.addEventListener("change", function () { tb.disabled = ck.checked; });
    var go = el("button", "primary", "Send");
    go.type = "submit";
    f.appendChild(go);
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var hs = th.value.split("\n").filter(function (l) { return l.trim(); })
        .map(function (l) {
          var i = l.indexOf(":");
          return i < 0 ? [l.trim(), ""] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
        });
      var edits = { method: im.value.trim(), path: ip.value.trim(), headers: hs };
      if (!ck.checked) edits.body = tb.value;
      replay(s, edits, msg);
    });
    acts.after(f);
  }

  /* --- live ------------------------------------------------------------ */

  function tunnels() {
    api("/api/status").then(function (st) {
      var box = document.getElementById("tunnels");
      box.textContent = "";
      st.tunnels.forEach(function (t) {
        box.appendChild(el("span", "tun", (t.name ? t.name + ": " : "") + t.local));
      });
    }).catch(function () {});
  }

  function events() {
    var es = new EventSource("/api/events");
    es.addEventListener("open", function () {
      live.className = "live on";
      live.textContent = "live";
    });
    es.addEventListener("error", function () {
      live.className = "live off";
      live.textContent = "reconnecting";
    });
    es.addEventListener("hello", function () { load(); });
    es.addEventListener("reset", function () { load(); });
    es.addEventListener("clear", clearAll);
    es.addEventListener("request", function (ev) {
      try { upsert(JSON.parse(ev.data)); } catch (e) { /* ignored */ }
    });
  }

  tunnels();
  load();
  events();
})();
