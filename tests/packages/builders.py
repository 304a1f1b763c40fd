"""Small but realistic packages, built in memory the way authoring tools lay them out, plus a
hostile set. Used by the package tests, the CLI tests and the benchmarks."""

from __future__ import annotations

import io
import json
import stat
import zipfile

HTML = b"<!doctype html><html><head><meta charset='utf-8'><title>SCO</title></head><body><h1>Lesson</h1></body></html>"


def zip_bytes(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


SCORM12_MANIFEST = """\ufeff<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="asylum_storyline_1" version="1.0"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.imsproject.org/xsd/imscp_rootv1p1p2 imscp_rootv1p1p2.xsd">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>1.2</schemaversion>
  </metadata>
  <organizations default="ORG-1">
    <organization identifier="ORG-1">
      <title>Asylum interviews</title>
      <item identifier="ITEM-1" identifierref="RES-1" isvisible="true">
        <title>Asylum interviews: the first contact</title>
        <adlcp:masteryscore>80</adlcp:masteryscore>
        <adlcp:datafromlms>lang=sr-Latn</adlcp:datafromlms>
        <adlcp:maxtimeallowed>01:30:00</adlcp:maxtimeallowed>
        <adlcp:timelimitaction>continue,no message</adlcp:timelimitaction>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="RES-1" type="webcontent" adlcp:scormtype="sco" href="index_lms.html">
      <file href="index_lms.html"/>
      <file href="story_content/data.js"/>
    </resource>
  </resources>
</manifest>
"""


def scorm12(*, folder: str = "", bom: bool = True) -> bytes:
    manifest = SCORM12_MANIFEST if bom else SCORM12_MANIFEST.lstrip("\ufeff")
    files = {
        "imsmanifest.xml": manifest.encode("utf-8"),
        "index_lms.html": HTML,
        "story_content/data.js": b"window.story = {};",
        "story_content/media/intro.mp4": b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 2000,
    }
    return zip_bytes({folder + k: v for k, v in files.items()})


SCORM2004_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="vulnerable_migrants_2004" version="1"
  xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3"
  xmlns:adlseq="http://www.adlnet.org/xsd/adlseq_v1p3"
  xmlns:adlnav="http://www.adlnet.org/xsd/adlnav_v1p3"
  xmlns:imsss="http://www.imsglobal.org/xsd/imsss"
  xml:base="content/">
  <metadata>
    <schema>ADL SCORM</schema>
    <schemaversion>2004 4th Edition</schemaversion>
    <lom xmlns="http://ltsc.ieee.org/xsd/LOM"><general>
      <title><string language="en">Identification of vulnerable migrants</string><string language="bs">Identifikacija ranjivih migranata</string></title>
      <description><string language="en">Indicators and referral.</string></description>
    </general></lom>
  </metadata>
  <organizations default="ORG">
    <organization identifier="ORG" adlseq:objectivesGlobalToSystem="false">
      <title>Vulnerable migrants</title>
      <item identifier="MOD1" identifierref="SCO1">
        <title>Indicators</title>
        <adlcp:completionThreshold completedByMeasure="true" minProgressMeasure="0.8"/>
        <adlcp:data><adlcp:map targetID="urn:rmtc:shared:notes" readSharedData="true" writeSharedData="true"/></adlcp:data>
        <imsss:sequencing>
          <imsss:objectives>
            <imsss:primaryObjective objectiveID="PRIMARY" satisfiedByMeasure="true">
              <imsss:minNormalizedMeasure>0.7</imsss:minNormalizedMeasure>
            </imsss:primaryObjective>
          </imsss:objectives>
        </imsss:sequencing>
      </item>
      <item identifier="MOD2" identifierref="SCO2" parameters="?chapter=2">
        <title>Referral</title>
      </item>
      <item identifier="HIDDEN" identifierref="SCO2" isvisible="false"><title>Hidden appendix</title></item>
      <imsss:sequencing><imsss:controlMode choice="true" flow="true"/></imsss:sequencing>
    </organization>
  </organizations>
  <resources xml:base="res/">
    <resource identifier="SCO1" type="webcontent" adlcp:scormType="sco" xml:base="m1/" href="index.html">
      <file href="index.html"/><dependency identifierref="SHARED"/>
    </resource>
    <resource identifier="SCO2" type="webcontent" adlcp:scormType="sco" href="m2/start.html">
      <file href="m2/start.html"/><file href="m2/missing.css"/>
    </resource>
    <resource identifier="SHARED" type="webcontent" adlcp:scormType="asset"><file href="shared/app.js"/></resource>
  </resources>
  <imsss:sequencingCollection><imsss:sequencing ID="common"><imsss:limitConditions attemptLimit="3"/></imsss:sequencing></imsss:sequencingCollection>
</manifest>
"""


def scorm2004() -> bytes:
    return zip_bytes({
        "imsmanifest.xml": SCORM2004_MANIFEST.encode(),
        "content/res/m1/index.html": HTML,
        "content/res/m2/start.html": HTML,
        "content/res/shared/app.js": b"var app;",
    })


CMI5_XML = """<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://rmtc.example/courses/return-counselling">
    <title><langstring lang="en-US">Return counselling</langstring><langstring lang="mk">Советување за враќање</langstring></title>
    <description><langstring lang="en-US">Assisted voluntary return.</langstring></description>
  </course>
  <objectives>
    <objective id="https://rmtc.example/objectives/avr"><title><langstring lang="en">AVR</langstring></title><description><langstring lang="en">x</langstring></description></objective>
  </objectives>
  <block id="https://rmtc.example/blocks/basics">
    <title><langstring lang="en-US">Basics</langstring></title>
    <description><langstring lang="en-US">Basics</langstring></description>
    <au id="https://rmtc.example/aus/intro" moveOn="CompletedOrPassed" masteryScore="0.75" launchMethod="OwnWindow" activityType="http://adlnet.gov/expapi/activities/lesson">
      <title><langstring lang="en-US">Introduction</langstring></title>
      <description><langstring lang="en-US">Intro</langstring></description>
      <objectives><objective idref="https://rmtc.example/objectives/avr"/></objectives>
      <url>au1/index.html?lang=en</url>
      <launchParameters>{"difficulty": "basic"}</launchParameters>
      <entitlementKey>rmtc-2026</entitlementKey>
    </au>
  </block>
  <au id="https://rmtc.example/aus/remote" moveOn="Passed">
    <title><langstring lang="en-US">Hosted elsewhere</langstring></title>
    <description><langstring lang="en-US">Remote</langstring></description>
    <url>https://content.example.org/au2/</url>
  </au>
</courseStructure>
"""


def cmi5(xml: str = CMI5_XML) -> bytes:
    return zip_bytes({"cmi5.xml": xml.encode(), "au1/index.html": HTML, "au1/app.js": b"//"})


TINCAN_XML = """<?xml version="1.0" encoding="utf-8" ?>
<tincan xmlns="http://projecttincan.com/tincan.xsd">
  <activities>
    <activity id="https://rmtc.example/xapi/crisis-preparedness" type="http://adlnet.gov/expapi/activities/course">
      <name lang="en-US">Crisis preparedness</name>
      <name lang="sr-Latn">Spremnost za krizne situacije</name>
      <description lang="en-US">Mass arrivals and contingency planning.</description>
      <launch lang="en-us">index.html</launch>
    </activity>
    <activity id="https://rmtc.example/xapi/crisis-preparedness/q1" type="http://adlnet.gov/expapi/activities/cmi.interaction">
      <name lang="en-US">Question 1</name>
    </activity>
  </activities>
</tincan>
"""


def tincan() -> bytes:
    return zip_bytes({"tincan.xml": TINCAN_XML.encode(), "index.html": HTML, "meta.xml": b"<meta/>"})


XXE = """<?xml version="1.0"?>
<!DOCTYPE manifest [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<manifest identifier="x"><organizations><organization identifier="o"><title>&xxe;</title></organization></organizations></manifest>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<courseStructure><course id="https://x">&lol9;</course></courseStructure>"""


def with_symlink() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("imsmanifest.xml", SCORM12_MANIFEST.encode())
        zf.writestr("index_lms.html", HTML)
        link = zipfile.ZipInfo("story_content/data.js")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    return buf.getvalue()


def zip_slip() -> bytes:
    return zip_bytes({"imsmanifest.xml": SCORM12_MANIFEST.encode(), "index_lms.html": HTML, "../../evil.sh": b"rm -rf /"})


def bomb(megabytes: int = 64) -> bytes:
    return zip_bytes({"imsmanifest.xml": SCORM12_MANIFEST.encode(), "index_lms.html": HTML,
                      "story_content/data.js": b"\0" * (megabytes * 1024 * 1024)})


def encrypted_flag() -> bytes:
    data = bytearray(zip_bytes({"imsmanifest.xml": SCORM12_MANIFEST.encode(), "index_lms.html": HTML}))
    # Set the "encrypted" general-purpose bit in the central directory entries.
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        data[pos + 8] |= 0x01
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# Playable packages for the browser tests: SCO pages with real JavaScript that find the run-time
# API the standard way (walking window.parent), initialize, read the bookmark, and expose `sco`
# (functions) and buttons for the test to drive.
# ---------------------------------------------------------------------------------------------

SCO_JS = r"""
(function () {
  "use strict";
  var is2004 = document.documentElement.getAttribute("data-scorm") === "2004";
  var NAMES = is2004
    ? { api: "API_1484_11", init: "Initialize", finish: "Terminate", get: "GetValue", set: "SetValue",
        commit: "Commit", error: "GetLastError", entry: "cmi.entry", location: "cmi.location", exit: "cmi.exit",
        sessionTime: "cmi.session_time" }
    : { api: "API", init: "LMSInitialize", finish: "LMSFinish", get: "LMSGetValue", set: "LMSSetValue",
        commit: "LMSCommit", error: "LMSGetLastError", entry: "cmi.core.entry", location: "cmi.core.lesson_location",
        exit: "cmi.core.exit", sessionTime: "cmi.core.session_time" };

  function findAPI(win) {  // SCORM RTE: the nearest window up the parent chain that has the API
    for (var tries = 0; win && tries < 10; tries++) {
      if (win[NAMES.api]) return win[NAMES.api];
      if (!win.parent || win.parent === win) break;
      win = win.parent;
    }
    return null;
  }
  var api = findAPI(window) || (window.opener ? findAPI(window.opener) : null);
  var page = 1;

  function call(fn, a, b) {
    var result = a === undefined ? api[NAMES[fn]]("") : (b === undefined ? api[NAMES[fn]](a) : api[NAMES[fn]](a, b));
    return { result: result, error: api[NAMES.error]() };
  }
  function show(id, text) { document.getElementById(id).textContent = text; }

  var sco = window.sco = {
    found: !!api,
    started: null,
    atUnload: null,
    call: call,
    get: function (element) { return call("get", element); },
    set: function (element, value) { return call("set", element, value); },
    setAll: function (pairs) {
      return pairs.map(function (p) { var r = call("set", p[0], p[1]); return [p[0], r.result, r.error]; })
        .filter(function (r) { return r[1] !== "true"; });
    },
    nextPage: function () {
      page += 1;
      var state = JSON.stringify({ page: page, notes: "stranica " + page + " \u2013 \u0161\u0111\u010d\u0107\u017e" });
      var results = sco.setAll([[NAMES.location, "page-" + page], ["cmi.suspend_data", state], [NAMES.exit, "suspend"]]);
      show("page", "page-" + page);
      return results;
    },
    finish: function (pairs) {
      var failed = sco.setAll(pairs.concat([[NAMES.sessionTime, is2004 ? "PT5.25S" : "0000:00:05.25"]]));
      var commit = call("commit");
      var end = call("finish");
      show("state", "finished " + end.result);
      return { failed: failed, commit: commit, finish: end };
    }
  };

  // A SCO that says goodbye itself when its page goes away (sco.atUnload: what it sets first).
  window.addEventListener("unload", function () {
    if (sco.atUnload) { sco.setAll(sco.atUnload); call("finish"); }
  });

  window.addEventListener("load", function () {
    if (!api) { show("state", "no API"); return; }
    var init = call("init");
    var location = call("get", NAMES.location).result;
    var data = call("get", "cmi.suspend_data").result;
    if (/^page-[0-9]+$/.test(location)) page = Number(location.slice(5));
    sco.started = { init: init, entry: call("get", NAMES.entry).result, location: location, suspend_data: data };
    show("state", "running");
    show("entry", sco.started.entry);
    show("page", location || "page-1");
  });
  document.addEventListener("click", function (event) {
    var action = event.target.getAttribute("data-action");
    if (action === "next") sco.nextPage();
    if (action === "finish") sco.finish(JSON.parse(document.body.getAttribute("data-finish")));
  });
})();
"""


def _sco_resources(scos: dict[str, str]) -> str:
    """<resource> elements of SCOs (identifier -> page) sharing sco.js next to their pages."""
    return "".join(
        f'<resource identifier="{rid}" type="webcontent" adlcp:scormType="sco" href="{page}"><file href="{page}"/>'
        f'<file href="{page.rsplit("/", 1)[0]}/sco.js"/></resource>' for rid, page in scos.items())


def _sco_page(version: str, title: str, finish: list[tuple[str, str]]) -> bytes:
    finish_json = json.dumps(finish).replace('"', "&quot;")
    return f"""<!doctype html>
<html data-scorm="{version}"><head><meta charset="utf-8"><title>{title}</title><script src="sco.js"></script></head>
<body data-finish="{finish_json}"><h1>{title}</h1>
<p>State: <span id="state">loading</span>; entry: <span id="entry"></span>; at <span id="page"></span></p>
<button type="button" data-action="next">Next page</button>
<button type="button" data-action="finish">Finish</button>
</body></html>""".encode()


SCORM12_PLAYABLE_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="rmtc_browser_12" version="1.0" xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="ORG">
    <organization identifier="ORG"><title>Interviewing asylum seekers</title>
      <item identifier="LESSON" identifierref="SCO"><title>First interview</title>
        <adlcp:masteryscore>80</adlcp:masteryscore></item>
    </organization>
  </organizations>
  <resources>{resources}</resources>
</manifest>
"""

#: What the 1.2 SCO's "Finish" button reports: passed with 90 (mastery score 80) and one interaction.
SCORM12_FINISH = [("cmi.core.score.raw", "90"), ("cmi.core.score.min", "0"), ("cmi.core.score.max", "100"),
                  ("cmi.core.lesson_status", "passed"), ("cmi.core.exit", ""), ("cmi.interactions.0.id", "q-rights-1"),
                  ("cmi.interactions.0.type", "choice"), ("cmi.interactions.0.student_response", "b"),
                  ("cmi.interactions.0.result", "correct")]


def scorm12_playable() -> bytes:
    return zip_bytes({
        "imsmanifest.xml": SCORM12_PLAYABLE_MANIFEST.format(resources=_sco_resources({"SCO": "lesson/index.html"})).encode(),
        "lesson/index.html": _sco_page("1.2", "First interview", SCORM12_FINISH),
        "lesson/sco.js": SCO_JS.encode(),
    })


SCORM2004_PLAYABLE_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="rmtc_browser_2004" version="1" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="ORG">
    <organization identifier="ORG"><title>Vulnerable migrants</title>
      <item identifier="INDICATORS" identifierref="SCO1"><title>Indicators</title></item>
      <item identifier="REFERRAL" identifierref="SCO2"><title>Referral</title></item>
      <imsss:sequencing><imsss:controlMode choice="true" flow="true"/></imsss:sequencing>
    </organization>
  </organizations>
  <resources>{resources}</resources>
</manifest>
"""

#: The 2004 SCOs' "Finish": the first passes with 0.9 and asks to continue, the second passes with 0.7.
SCORM2004_FINISH = {
    "INDICATORS": [("cmi.completion_status", "completed"), ("cmi.success_status", "passed"), ("cmi.score.scaled", "0.9"),
                   ("cmi.score.raw", "90"), ("cmi.progress_measure", "1"), ("cmi.exit", "normal"),
                   ("cmi.interactions.0.id", "q-indicators-1"), ("cmi.interactions.0.type", "true-false"),
                   ("cmi.interactions.0.learner_response", "true"), ("cmi.interactions.0.result", "correct"),
                   ("adl.nav.request", "continue")],
    "REFERRAL": [("cmi.completion_status", "completed"), ("cmi.success_status", "passed"), ("cmi.score.scaled", "0.7"),
                 ("cmi.exit", "normal")],
}


def scorm2004_playable() -> bytes:
    return zip_bytes({
        "imsmanifest.xml": SCORM2004_PLAYABLE_MANIFEST.format(
            resources=_sco_resources({"SCO1": "sco/indicators.html", "SCO2": "sco/referral.html"})).encode(),
        "sco/indicators.html": _sco_page("2004", "Indicators", SCORM2004_FINISH["INDICATORS"]),
        "sco/referral.html": _sco_page("2004", "Referral", SCORM2004_FINISH["REFERRAL"]),
        "sco/sco.js": SCO_JS.encode(),
    })


REPOSITORY = __import__("pathlib").Path(__file__).resolve().parents[2]


def zip_folder(relative: str) -> bytes:
    """A package zip of a folder of this repository (e.g. one of content_packages/)."""
    from app.demo import zip_folder as zip_path

    return zip_path(REPOSITORY / relative)
