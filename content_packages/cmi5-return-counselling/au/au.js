/* A cmi5 AU written for the RMTC platform (and usable with any cmi5 LMS): reads the launch
 * parameters, fetches its credential once, reads LMS.LaunchData and the learner preferences,
 * keeps a bookmark in its own state document, and sends initialized, completed, passed/failed
 * and terminated following the cmi5 rules. `window.au` exposes its state for tests. */
(function () {
  "use strict";
  var CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5";
  var MOVEON = "https://w3id.org/xapi/cmi5/context/categories/moveon";
  var VERB = "http://adlnet.gov/expapi/verbs/";
  var BOOKMARK = "rmtc.bookmark";
  var q = new URLSearchParams(window.location.search);
  var au = window.au = {
    endpoint: q.get("endpoint"), fetchUrl: q.get("fetch"), actor: JSON.parse(q.get("actor") || "null"),
    registration: q.get("registration"), activityId: q.get("activityId"),
    auth: null, launchData: null, bookmark: { page: 0, completed: false, passed: false },
    started: Date.now(), sent: [], errors: [], ready: false, terminated: false
  };
  var statusEl = document.getElementById("status");
  function show(text) { statusEl.textContent = text; }

  function uuid() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function lrs(method, resource, params, body, keepalive) {
    var url = au.endpoint.replace(/\/?$/, "/") + resource + (params ? "?" + new URLSearchParams(params) : "");
    var headers = { "Authorization": au.auth, "X-Experience-API-Version": "1.0.3" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method: method, headers: headers, keepalive: !!keepalive,
                        body: body === undefined ? undefined : JSON.stringify(body) });
  }

  function stateParams(stateId) {
    return { activityId: au.activityId, agent: JSON.stringify(au.actor), registration: au.registration, stateId: stateId };
  }

  function duration() { return "PT" + ((Date.now() - au.started) / 1000).toFixed(2) + "S"; }

  function send(verb, result) {
    var context = JSON.parse(JSON.stringify(au.launchData.contextTemplate));
    context.registration = au.registration;
    context.contextActivities = context.contextActivities || {};
    var category = [{ id: CMI5 }];
    if (result && ("success" in result || "completion" in result)) category.push({ id: MOVEON });
    context.contextActivities.category = category;
    if ((verb === "passed" || verb === "failed") && au.launchData.masteryScore !== undefined) {
      context.extensions["https://w3id.org/xapi/cmi5/context/extensions/masteryscore"] = au.launchData.masteryScore;
    }
    var statement = { id: uuid(), actor: au.actor, verb: { id: VERB + verb, display: { "en-US": verb } },
                      object: { id: au.activityId, objectType: "Activity" }, context: context,
                      timestamp: new Date().toISOString() };
    if (result) statement.result = result;
    return lrs("POST", "statements", null, statement, verb === "terminated").then(function (r) {
      if (!r.ok) { au.errors.push(verb + ": " + r.status); throw new Error(verb + " refused: " + r.status); }
      au.sent.push(verb);
    });
  }

  function saveBookmark() {
    return lrs("PUT", "activities/state", stateParams(BOOKMARK), au.bookmark);
  }

  var pages = document.querySelectorAll(".page");
  function showPage(n) {
    au.bookmark.page = Math.max(0, Math.min(pages.length - 1, n));
    pages.forEach(function (p, i) { p.classList.toggle("current", i === au.bookmark.page); });
    au.page = au.bookmark.page;
  }

  function normal() { return au.launchData.launchMode === "Normal"; }

  function submit() {
    var answers = { q1: "b", q2: "a" };
    var right = 0;
    Object.keys(answers).forEach(function (name) {
      var checked = document.querySelector("input[name=" + name + "]:checked");
      if (checked && checked.value === answers[name]) right += 1;
    });
    var scaled = right / 2;
    var mastery = au.launchData.masteryScore;
    var passed = mastery === undefined ? scaled === 1 : scaled >= mastery;
    document.getElementById("result").textContent = "Score: " + right + "/2";
    if (!normal()) return Promise.resolve();
    var chain = Promise.resolve();
    if (!au.bookmark.completed) {
      chain = chain.then(function () { return send("completed", { completion: true, duration: duration() }); })
                   .then(function () { au.bookmark.completed = true; });
    }
    if (!au.bookmark.passed && !au.failedThisSession) {  // one result per session; passed once per registration
      chain = chain.then(function () {
        return send(passed ? "passed" : "failed",
                    { success: passed, score: { scaled: scaled, raw: right, min: 0, max: 2 }, duration: duration() });
      }).then(function () { if (passed) au.bookmark.passed = true; else au.failedThisSession = true; });
    }
    return chain.then(saveBookmark).then(function () { show(passed ? "Passed" : "Not passed yet"); });
  }

  function exit() {
    if (au.terminated) return Promise.resolve();
    au.terminated = true;
    return saveBookmark().then(function () { return send("terminated", { duration: duration() }); }).then(function () {
      show("Finished");
      if (au.launchData.returnURL) window.location.assign(au.launchData.returnURL);
    });
  }

  function start() {
    return fetch(au.fetchUrl, { method: "POST" }).then(function (r) { return r.json(); }).then(function (answer) {
      if (!answer["auth-token"]) throw new Error("fetch: " + answer["error-text"]);
      au.auth = "Basic " + answer["auth-token"];
      return lrs("GET", "activities/state", stateParams("LMS.LaunchData"));
    }).then(function (r) { return r.json(); }).then(function (data) {
      au.launchData = data;
      return lrs("GET", "agents/profile", { agent: JSON.stringify(au.actor), profileId: "cmi5LearnerPreferences" });
    }).then(function (r) { return r.ok ? r.json() : {}; }).then(function (prefs) {
      au.preferences = prefs;
      return lrs("GET", "activities/state", stateParams(BOOKMARK));
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (bookmark) {
      if (bookmark) au.bookmark = bookmark;
      au.resumed = !!bookmark;
      return send("initialized");
    }).then(function () {
      showPage(au.bookmark.page);
      au.ready = true;
      show(au.launchData.launchMode + (au.resumed ? " - resumed at page " + (au.bookmark.page + 1) : ""));
    }).catch(function (e) { au.errors.push(String(e)); show("Cannot start: " + e.message); });
  }

  document.getElementById("next").addEventListener("click", function () { showPage(au.bookmark.page + 1); saveBookmark(); });
  document.getElementById("previous").addEventListener("click", function () { showPage(au.bookmark.page - 1); saveBookmark(); });
  document.getElementById("submit").addEventListener("click", function () { au.pending = submit(); });
  document.getElementById("exit").addEventListener("click", function () { au.pending = exit(); });
  au.started_promise = start();
})();
