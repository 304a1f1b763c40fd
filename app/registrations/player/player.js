/* RMTC player: frames a SCO and provides the SCORM 1.2 (window.API) and SCORM 2004
 * (window.API_1484_11) run-time APIs. CMI data lives in this page; GetValue is answered locally,
 * SetValue is checked against the data model rules sent by the server (the same rules the server
 * applies to every commit), and commits go to the run-time endpoint with this session's token
 * (never the user's JWT).
 * Leaving the page ends the session: browsers refuse synchronous requests while a page is being
 * dismissed, so from the player's pagehide on, commits (the SCO's own Commit/Terminate in its
 * pagehide/unload handlers too) go out as beacons carrying what the server has not acknowledged yet.
 * The player's pagehide fires before the SCO's; the SCO's last unload listener (the player's, added
 * after the SCO's own) terminates the session if the SCO did not. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("rmtc-config").textContent);
  var rules = config.rules;
  var is12 = config.scorm === "1.2";
  var cmi = {};
  var state = "new"; // new | running | ended
  var lastError = 0;
  var sequence = 0;
  var dirty = false;
  var acknowledged = {}; // the CMI data as the server last accepted it
  var unloading = false; // the page is being dismissed: no synchronous requests any more
  var scoObserved = false; // the player sees the SCO document's unload (same origin)
  var statusEl = document.getElementById("status");

  function show(text) { statusEl.textContent = text; }

  function request(method, url, body, sync) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, !sync);
    xhr.setRequestHeader("Content-Type", "application/json");
    try {
      xhr.send(body === undefined ? null : JSON.stringify(body));
    } catch (e) {
      return { status: 0, responseText: "" }; // e.g. a synchronous request while the page is dismissed
    }
    return xhr;
  }

  function load() {
    var xhr = request("GET", config.runtime + "/cmi", undefined, true);
    if (xhr.status !== 200) { show("This session cannot start (" + xhr.status + ")."); return false; }
    cmi = JSON.parse(xhr.responseText).cmi;
    acknowledged = Object.assign({}, cmi);
    return true;
  }

  /* A commit the browser delivers after the page is gone. The server merges commits into what it
   * stored, so the beacon carries only what it has not acknowledged (beacons have a small quota);
   * each beacon contains the previous ones, so their order of arrival does not matter. */
  function beacon(payload) {
    var changed = {};
    Object.keys(cmi).forEach(function (k) { if (acknowledged[k] !== cmi[k]) changed[k] = cmi[k]; });
    payload.data = changed;
    var body = new Blob([JSON.stringify(payload)], { type: "text/plain" });
    return !!navigator.sendBeacon && navigator.sendBeacon(config.runtime + "/commit", body);
  }

  function commit(terminate) {
    sequence += 1;
    var payload = { sequence: sequence, terminate: !!terminate, data: cmi };
    if (unloading) return beacon(payload) || 101;
    var xhr = request("POST", config.runtime + "/commit", payload, true);
    if (xhr.status === 0) return beacon(payload) || 101;
    if (xhr.status === 200) { acknowledged = Object.assign({}, cmi); dirty = false; show("Saved"); return true; }
    var code = 101;
    try { code = JSON.parse(xhr.responseText).errorCode || 101; } catch (e) { /* keep 101 */ }
    show("Not saved (" + xhr.status + ")");
    return code;
  }

  var validator = window.RMTCDataModel(rules);

  function errorCodes() {
    return is12
      ? { notInitialized: 301, general: 101, ended: 101, commitFailed: 101 }
      : { notInitialized: 122, general: 101, ended: 123, beforeInitGet: 122, afterTermGet: 123,
          beforeInitSet: 132, afterTermSet: 133, beforeInitCommit: 142, afterTermCommit: 143,
          alreadyInitialized: 103, contentTerminated: 104, terminateBeforeInit: 112, terminateAfterTerm: 113,
          commitFailed: 391, generalGet: 301, generalSet: 351 };
  }
  var E = errorCodes();

  function ok() { lastError = 0; return "true"; }
  function fail(code) { lastError = code; return "false"; }

  function initialize(param) {
    if (param !== "" && param !== undefined) return fail(201);
    if (state === "running") return fail(is12 ? 101 : 103);
    if (state === "ended") return fail(is12 ? 101 : 104);
    if (!load()) return fail(101);
    state = "running";
    var result = commit(false);
    return result === true ? ok() : fail(101);
  }

  function terminate(param) {
    if (param !== "" && param !== undefined) return fail(201);
    if (state === "new") return fail(is12 ? 301 : 112);
    if (state === "ended") return fail(is12 ? 101 : 113);
    var result = commit(true);
    state = "ended";
    if (result !== true) return fail(is12 ? 101 : 111);
    lastError = 0;
    setTimeout(afterTerminate, 0);
    return "true";
  }

  function getValue(element) {
    if (state === "new") { lastError = is12 ? 301 : 122; return ""; }
    if (state === "ended") { lastError = is12 ? 101 : 123; return ""; }
    var result = validator.get(cmi, element, config.hidden);
    lastError = result.error;
    return result.error === 0 ? result.value : "";
  }

  function setValue(element, value) {
    if (state === "new") return fail(is12 ? 301 : 132);
    if (state === "ended") return fail(is12 ? 101 : 133);
    var code = validator.set(cmi, element, String(value), config.locked);
    if (code !== 0) return fail(code);
    dirty = true;
    return ok();
  }

  function commitCall(param) {
    if (param !== "" && param !== undefined) return fail(201);
    if (state === "new") return fail(is12 ? 301 : 142);
    if (state === "ended") return fail(is12 ? 101 : 143);
    var result = commit(false);
    return result === true ? ok() : fail(is12 ? 101 : 391);
  }

  function errorString(code) { return (rules.errors && rules.errors[String(code)]) || ""; }

  if (is12) {
    window.API = {
      LMSInitialize: initialize, LMSFinish: terminate, LMSGetValue: getValue, LMSSetValue: setValue,
      LMSCommit: commitCall, LMSGetLastError: function () { return String(lastError); },
      LMSGetErrorString: errorString, LMSGetDiagnostic: function (c) { return errorString(c || lastError); }
    };
  } else {
    window.API_1484_11 = {
      Initialize: initialize, Terminate: terminate, GetValue: getValue, SetValue: setValue, Commit: commitCall,
      GetLastError: function () { return String(lastError); }, GetErrorString: errorString,
      GetDiagnostic: function (c) { return errorString(c || lastError); }
    };
  }

  // Leaving the page mid-session. The player's pagehide comes first: save what there is; then the
  // SCO's pagehide and unload handlers run (they may still Commit or Terminate), and after them the
  // player's unload listener on the SCO's window ends the session. When the SCO's document cannot be
  // observed, the session ends here.
  window.addEventListener("pagehide", function (event) {
    unloading = true;
    if (state !== "running") return;
    var last = !event.persisted && !scoObserved;
    commit(last);
    if (last) state = "ended";
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) unloading = false; // back from the back/forward cache: still running
  });

  function endWithTheSco() {
    if (unloading && state === "running") { commit(true); state = "ended"; }
  }

  document.getElementById("sco").addEventListener("load", function () {
    scoObserved = false;
    try {
      var win = document.getElementById("sco").contentWindow;
      win.addEventListener("unload", endWithTheSco);
      scoObserved = true;
    } catch (e) { /* another origin: the player's own pagehide ends the session */ }
  });

  function afterTerminate() {
    show("Finished");
    if (unloading) return; // the SCO terminated because the page is going away: no navigation
    var nav = cmi["adl.nav.request"] || "";
    var index = config.items.findIndex(function (i) { return i.id === config.unit; });
    var next = null;
    // A SCO that suspends without a navigation request is paused: the learner picks what comes next.
    var suspended = (cmi["cmi.exit"] || cmi["cmi.core.exit"]) === "suspend";
    if (nav === "" && suspended) { show("Saved"); return; }
    if (nav === "continue" || (nav === "" && config.items.length > 1)) next = config.items[index + 1];
    else if (nav === "previous") next = config.items[index - 1];
    else if (nav.indexOf("{target=") === 0) {
      var target = nav.slice(8, nav.indexOf("}"));
      next = config.items.find(function (i) { return i.id === target; });
    }
    if (next) navigate(next.id, nav.indexOf("{target=") === 0 ? "choice" : (nav === "previous" ? "previous" : "continue"));
  }

  function navigate(unitId, request) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", config.runtime + "/navigate", false);
    xhr.setRequestHeader("Content-Type", "application/json");
    xhr.send(JSON.stringify({ unit: unitId, request: request || "choice" }));
    if (xhr.status === 200) { window.location.replace(JSON.parse(xhr.responseText).launch_url); }
    else { show("Cannot open that part (" + xhr.status + ")."); }
  }

  // The menu offers what may be chosen: items hidden from choice are left out (flow still reaches
  // them), disabled ones are shown but cannot be picked.
  var select = document.getElementById("items");
  var menu = config.items.filter(function (item) { return !item.hidden || item.id === config.unit; });
  if (menu.length > 1) {
    menu.forEach(function (item) {
      var option = document.createElement("option");
      option.disabled = !!item.disabled && item.id !== config.unit;
      option.value = item.id;
      option.textContent = item.title || item.id;
      option.selected = item.id === config.unit;
      select.appendChild(option);
    });
    select.hidden = false;
    select.addEventListener("change", function () {
      if (state === "running") { commit(true); state = "ended"; }
      navigate(select.value);
    });
  }

  document.getElementById("sco").src = config.content;
})();
