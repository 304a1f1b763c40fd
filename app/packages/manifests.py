"""Manifest parsing for SCORM 1.2, SCORM 2004 (2nd-4th ed.), cmi5 and xAPI (TinCan) packages.

Pure functions: bytes and the set of file names in, a normalised `ParsedPackage` out. XML is read
with defusedxml, which refuses DTDs, entity declarations and external references (XXE and
"billion laughs" fail at once). Element and attribute names are matched by local name, so the
many namespace variants that authoring tools emit are all read the same way.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from app.core.i18n import is_language_tag

SCORM_MANIFEST = "imsmanifest.xml"
CMI5_MANIFEST = "cmi5.xml"
TINCAN_MANIFEST = "tincan.xml"
CMI5_LAUNCH_PARAMS = {"endpoint", "fetch", "actor", "registration", "activityid"}
MOVE_ON = {"Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable"}
TIME_LIMIT_ACTIONS = {"exit,message", "exit,no message", "continue,message", "continue,no message"}
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


@dataclass
class Finding:
    severity: str  # "error" blocks the import, "warning" does not
    code: str
    message: str
    where: str | None = None


@dataclass
class LaunchUnit:
    id: str
    title: dict[str, str]
    launch: str  # path inside the package, or an absolute URL
    kind: str  # "sco", "asset", "au", "activity"
    parameters: str | None = None
    resource_id: str | None = None
    mastery_score: float | None = None
    data_from_lms: str | None = None
    max_time_allowed: str | None = None
    time_limit_action: str | None = None
    completion_threshold: float | None = None
    scaled_passing_score: float | None = None
    launch_method: str | None = None
    move_on: str | None = None
    activity_type: str | None = None
    entitlement_key: str | None = None
    objectives: list[str] = field(default_factory=list)
    description: dict[str, str] = field(default_factory=dict)
    shared_data: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ParsedPackage:
    standard: str  # "scorm12", "scorm2004", "cmi5", "xapi"
    edition: str | None
    identifier: str
    title: dict[str, str]
    description: dict[str, str]
    units: list[LaunchUnit]
    tree: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ManifestError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# XML helpers ------------------------------------------------------------------------------


def local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_xml(data: bytes, name: str) -> Element:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ManifestError("unsafe-xml", f"{name} declares a DTD, entities or external references; refused ({type(exc).__name__}).") from None
    except ParseError as exc:
        raise ManifestError("malformed-xml", f"{name} is not well-formed XML: {exc}.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError("malformed-xml", f"{name} cannot be read: {exc}.") from None


def children(el: Element, name: str) -> list[Element]:
    return [c for c in el if local(c.tag) == name]


def child(el: Element | None, name: str) -> Element | None:
    if el is None:
        return None
    return next((c for c in el if local(c.tag) == name), None)


def find_deep(el: Element, name: str) -> Element | None:
    return next((c for c in el.iter() if local(c.tag) == name), None)


def attr(el: Element | None, name: str, default: str | None = None) -> str | None:
    """Attribute by local name, case-insensitive (scormtype vs scormType)."""
    if el is None:
        return default
    wanted = name.lower()
    for key, value in el.attrib.items():
        if local(key).lower() == wanted:
            return value
    return default


def text(el: Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def _lang(tag: str | None) -> str:
    return tag if tag and is_language_tag(tag) else "und"


def langstrings(el: Element | None) -> dict[str, str]:
    """<title><langstring lang="en">..</langstring></title>, LOM <string language=..>, or plain text."""
    if el is None:
        return {}
    result: dict[str, str] = {}
    for sub in el.iter():
        if local(sub.tag) in ("langstring", "string") and text(sub):
            lang = attr(sub, "lang") or attr(sub, "language")
            result.setdefault(_lang(lang), text(sub) or "")
    if not result and text(el):
        result["und"] = text(el) or ""
    return result


def lang_elements(parent: Element, name: str) -> dict[str, str]:
    """Repeated sibling elements with a lang attribute: <name lang="en">..</name><name lang="sr">.."""
    result: dict[str, str] = {}
    for el in children(parent, name):
        if text(el):
            result.setdefault(_lang(attr(el, "lang")), text(el) or "")
    return result


def _float(value: str | None, where: str, findings: list[Finding], lo: float, hi: float) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        findings.append(Finding("warning", "bad-number", f"{where}: {value!r} is not a number; ignored.", where))
        return None
    if not lo <= number <= hi:
        findings.append(Finding("warning", "out-of-range", f"{where}: {value} is outside {lo}..{hi}; ignored.", where))
        return None
    return number


def _resolve(base: str, href: str) -> str:
    """A path inside the package from xml:base segments and an href (query/fragment kept)."""
    parts = urlsplit(href)
    if parts.scheme or href.startswith("//"):
        return href
    path = posixpath.normpath(posixpath.join(base, unquote(parts.path))) if parts.path else base
    if path.startswith("../") or path == "..":
        return "../"  # escapes the package: reported by the caller
    suffix = (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    return path.lstrip("./") + suffix if path != "." else suffix


def _path_only(launch: str) -> str:
    return urlsplit(launch).path


def detect(names: set[str]) -> str | None:
    if CMI5_MANIFEST in names:
        return "cmi5"
    if SCORM_MANIFEST in names:
        return "scorm"
    if TINCAN_MANIFEST in names:
        return "xapi"
    return None


# SCORM ------------------------------------------------------------------------------------


def _scorm_version(root: Element) -> tuple[str, str | None]:
    schemaversion = (text(find_deep(root, "schemaversion")) or "").lower()
    namespaces = " ".join({el.tag.split("}")[0] for el in root.iter() if isinstance(el.tag, str) and "}" in el.tag})
    namespaces += " " + " ".join(root.attrib.values())
    if "1.2" in schemaversion and "2004" not in schemaversion:
        return "scorm12", None
    if "4th" in schemaversion:
        return "scorm2004", "4th"
    if "3rd" in schemaversion:
        return "scorm2004", "3rd"
    if "cam 1.3" in schemaversion or "2004" in schemaversion:
        return "scorm2004", "2nd"
    if "adlcp_v1p3" in namespaces or "imsss" in namespaces:
        return "scorm2004", None
    return "scorm12", None


def parse_scorm(data: bytes, names: set[str]) -> ParsedPackage:
    root = parse_xml(data, SCORM_MANIFEST)
    if local(root.tag) != "manifest":
        raise ManifestError("not-a-manifest", f"{SCORM_MANIFEST} has no <manifest> root element.")
    standard, edition = _scorm_version(root)
    findings: list[Finding] = []
    base_manifest = attr(root, "base") or ""

    resources_el = child(root, "resources")
    base_resources = posixpath.join(base_manifest, attr(resources_el, "base") or "")
    resources: dict[str, dict[str, Any]] = {}
    referenced_files: set[str] = set()
    for res in children(resources_el, "resource") if resources_el is not None else []:
        rid = attr(res, "identifier")
        if not rid:
            findings.append(Finding("warning", "resource-without-id", "A <resource> has no identifier; ignored."))
            continue
        base = posixpath.join(base_resources, attr(res, "base") or "")
        href = attr(res, "href")
        files = [_resolve(base, attr(f, "href") or "") for f in children(res, "file") if attr(f, "href")]
        resources[rid] = {
            "id": rid,
            "type": (attr(res, "scormtype") or "asset").lower(),
            "href": _resolve(base, href) if href else None,
            "files": files,
            "dependencies": [attr(d, "identifierref") for d in children(res, "dependency") if attr(d, "identifierref")],
        }
        for f in files:
            referenced_files.add(_path_only(f))
        if href:
            referenced_files.add(_path_only(_resolve(base, href)))
    for res in resources.values():
        for dep in res["dependencies"]:
            if dep not in resources:
                findings.append(Finding("warning", "missing-dependency", f"Resource {res['id']} depends on unknown {dep}.", res["id"]))
        for f in res["files"]:
            if not urlsplit(f).scheme and _path_only(f) not in names and f != "../":
                findings.append(Finding("warning", "missing-file", f"Resource {res['id']} lists {f}, which is not in the package.", f))

    orgs_el = child(root, "organizations")
    organizations = children(orgs_el, "organization") if orgs_el is not None else []
    default_id = attr(orgs_el, "default")
    default_org = None
    if default_id:
        default_org = next((o for o in organizations if attr(o, "identifier") == default_id), None)
        if default_org is None:
            findings.append(Finding("error", "missing-default-organization", f"The default organization {default_id!r} does not exist.", default_id))
    elif organizations:
        default_org = organizations[0]

    units: list[LaunchUnit] = []

    def walk(el: Element) -> dict[str, Any]:
        node: dict[str, Any] = {
            "id": attr(el, "identifier") or "",
            "kind": local(el.tag),
            "title": langstrings(child(el, "title")),
            "hidden": (attr(el, "isvisible") or "true").lower() == "false",
            "children": [],
        }
        sequencing = child(el, "sequencing")
        if sequencing is not None:
            node["sequencing"] = _element_json(sequencing)
        completion = child(el, "completionThreshold")
        ref = attr(el, "identifierref")
        if ref is not None:
            res = resources.get(ref)
            if res is None:
                findings.append(Finding("error", "missing-resource", f"Item {node['id']} points at resource {ref!r}, which does not exist.", node["id"]))
            elif res["href"] is None:
                findings.append(Finding("error", "resource-without-href", f"Resource {ref} of item {node['id']} has no href to launch.", ref))
            else:
                launch = res["href"]
                params = attr(el, "parameters")
                if launch == "../":
                    findings.append(Finding("error", "launch-outside-package", f"Resource {ref} launches outside the package.", ref))
                elif not urlsplit(launch).scheme and _path_only(launch) not in names:
                    findings.append(Finding("error", "missing-launch-file", f"Item {node['id']} launches {_path_only(launch)}, which is not in the package.", node["id"]))
                unit = LaunchUnit(
                    id=node["id"],
                    title=node["title"],
                    launch=launch,
                    kind="sco" if res["type"] == "sco" else "asset",
                    parameters=params,
                    resource_id=ref,
                    mastery_score=_scorm_mastery(el, standard, findings, node["id"]),
                    data_from_lms=text(child(el, "datafromlms")) or text(child(el, "dataFromLMS")),
                    max_time_allowed=text(child(el, "maxtimeallowed")),
                    time_limit_action=(text(child(el, "timelimitaction")) or None),
                    completion_threshold=_completion_threshold(completion, findings, node["id"]),
                    scaled_passing_score=_scaled_passing(sequencing, findings, node["id"]),
                    objectives=_objective_ids(sequencing),
                    shared_data=_shared_data_maps(child(el, "data")),
                )
                if unit.time_limit_action and unit.time_limit_action not in TIME_LIMIT_ACTIONS:
                    findings.append(Finding("warning", "bad-time-limit-action", f"Item {node['id']}: unknown timelimitaction {unit.time_limit_action!r}.", node["id"]))
                units.append(unit)
                node["unit"] = unit.id
        for sub in children(el, "item"):
            node["children"].append(walk(sub))
        return node

    tree: dict[str, Any] = {"id": attr(root, "identifier") or "", "kind": "manifest", "children": []}
    for org in organizations:
        org_node = walk(org)
        org_node["default"] = org is default_org
        tree["children"].append(org_node)
    if not organizations:
        # Resource-only SCORM packages exist (rare): each SCO resource is a unit.
        for res in resources.values():
            if res["type"] == "sco" and res["href"]:
                units.append(LaunchUnit(id=res["id"], title={}, launch=res["href"], kind="sco", resource_id=res["id"]))
    if not [u for u in units if _in_default(tree, u.id) or not organizations]:
        findings.append(Finding("error", "nothing-to-launch", "The manifest has no launchable item (no item points at a resource with an href)."))

    extra: dict[str, Any] = {}
    collection = child(root, "sequencingCollection")
    if collection is not None:
        extra["sequencing_collection"] = _element_json(collection)
    shared = [{"id": attr(m, "targetID"), "read_shared_data": attr(m, "readSharedData", "true"), "write_shared_data": attr(m, "writeSharedData", "true")}
              for m in root.iter() if local(m.tag) == "map" and attr(m, "targetID")]
    if shared:
        extra["shared_data"] = shared
    listed = referenced_files | {SCORM_MANIFEST}
    unreferenced = sorted(n for n in names if n not in listed and not n.endswith(".xsd") and not n.endswith(".dtd"))
    if unreferenced and any(r["files"] for r in resources.values()):
        findings.append(Finding("warning", "unreferenced-files", f"{len(unreferenced)} files are not listed in the manifest (e.g. {', '.join(unreferenced[:5])}).",))

    metadata_title = _lom_title(root)
    default_title = default_org is not None and langstrings(child(default_org, "title"))
    title = metadata_title or default_title or {"und": attr(root, "identifier") or "Untitled package"}
    return ParsedPackage(
        standard=standard,
        edition=edition,
        identifier=attr(root, "identifier") or "",
        title=title,
        description=_lom_description(root),
        units=[u for u in units],
        tree=tree,
        extra=extra,
        findings=findings,
    )


def _in_default(tree: dict[str, Any], unit_id: str) -> bool:
    for org in tree["children"]:
        if org.get("default"):
            stack = [org]
            while stack:
                node = stack.pop()
                if node.get("unit") == unit_id:
                    return True
                stack.extend(node["children"])
    return False


def _shared_data_maps(data: Element | None) -> list[dict[str, Any]]:
    """SCORM 2004 4th edition <adlcp:data><adlcp:map targetID readSharedData writeSharedData/>: the
    shared data buckets an item reads (adl.data) and whether it may read and write them."""
    if data is None:
        return []
    return [{"id": attr(m, "targetID"), "read": (attr(m, "readSharedData") or "true").lower() != "false",
             "write": (attr(m, "writeSharedData") or "true").lower() != "false"}
            for m in data if local(m.tag) == "map" and attr(m, "targetID")]


def _scorm_mastery(item: Element, standard: str, findings: list[Finding], where: str) -> float | None:
    if standard != "scorm12":
        return None
    return _float(text(child(item, "masteryscore")), f"item {where} masteryscore", findings, 0, 100)


def _completion_threshold(el: Element | None, findings: list[Finding], where: str) -> float | None:
    if el is None:
        return None
    value = attr(el, "minProgressMeasure") or text(el)
    return _float(value, f"item {where} completionThreshold", findings, 0, 1)


def _scaled_passing(sequencing: Element | None, findings: list[Finding], where: str) -> float | None:
    if sequencing is None:
        return None
    for objective in sequencing.iter():
        if local(objective.tag) == "primaryObjective" and (attr(objective, "satisfiedByMeasure") or "").lower() == "true":
            return _float(text(find_deep(objective, "minNormalizedMeasure")) or "1.0", f"item {where} minNormalizedMeasure", findings, -1, 1)
    return None


def _objective_ids(sequencing: Element | None) -> list[str]:
    if sequencing is None:
        return []
    return [attr(o, "objectiveID") for o in sequencing.iter() if local(o.tag) in ("primaryObjective", "objective") and attr(o, "objectiveID")]


def _element_json(el: Element) -> dict[str, Any]:
    """Sequencing XML kept as data (attributes by local name, children by element name)."""
    node: dict[str, Any] = {"tag": local(el.tag)}
    if el.attrib:
        node["attributes"] = {local(k): v for k, v in el.attrib.items()}
    value = text(el)
    if value:
        node["text"] = value
    kids = [_element_json(c) for c in el if isinstance(c.tag, str)]
    if kids:
        node["children"] = kids
    return node


def _lom_title(root: Element) -> dict[str, str]:
    metadata = child(root, "metadata")
    general = find_deep(metadata, "general") if metadata is not None else None
    return langstrings(child(general, "title")) if general is not None else {}


def _lom_description(root: Element) -> dict[str, str]:
    metadata = child(root, "metadata")
    general = find_deep(metadata, "general") if metadata is not None else None
    return langstrings(child(general, "description")) if general is not None else {}


# cmi5 -------------------------------------------------------------------------------------


def _check_iri(value: str | None, what: str, findings: list[Finding]) -> None:
    if not value or not _IRI.match(value):
        findings.append(Finding("error", "invalid-iri", f"{what} id {value!r} is not an absolute IRI.", value))


def parse_cmi5(data: bytes, names: set[str] | None) -> ParsedPackage:
    """`names` is None for a bare cmi5.xml whose AUs are hosted elsewhere."""
    root = parse_xml(data, CMI5_MANIFEST)
    if local(root.tag) != "courseStructure":
        raise ManifestError("not-a-manifest", f"{CMI5_MANIFEST} has no <courseStructure> root element.")
    findings: list[Finding] = []
    course = child(root, "course")
    if course is None:
        raise ManifestError("not-a-manifest", f"{CMI5_MANIFEST} has no <course> element.")
    _check_iri(attr(course, "id"), "course", findings)
    seen: dict[str, str] = {}
    units: list[LaunchUnit] = []
    objective_ids = set()
    objectives_el = child(root, "objectives")
    for obj in children(objectives_el, "objective") if objectives_el is not None else []:
        _check_iri(attr(obj, "id"), "objective", findings)
        objective_ids.add(attr(obj, "id"))

    def note_id(value: str | None, what: str) -> None:
        if value and value in seen:
            findings.append(Finding("error", "duplicate-id", f"{what} id {value} is used twice (also by a {seen[value]}).", value))
        elif value:
            seen[value] = what

    note_id(attr(course, "id"), "course")

    def walk(el: Element) -> dict[str, Any]:
        kind = local(el.tag)
        node_id = attr(el, "id")
        _check_iri(node_id, kind, findings)
        note_id(node_id, kind)
        node: dict[str, Any] = {"id": node_id, "kind": kind, "title": langstrings(child(el, "title")), "children": []}
        if kind == "au":
            url = text(child(el, "url")) or ""
            node["unit"] = node_id
            units.append(_cmi5_au(el, node_id or "", url, node["title"], names, findings, objective_ids))
            return node
        for sub in el:
            if local(sub.tag) in ("au", "block"):
                node["children"].append(walk(sub))
        if kind == "block" and not node["children"]:
            findings.append(Finding("warning", "empty-block", f"Block {node_id} contains no AU.", node_id))
        return node

    tree = {"id": attr(course, "id"), "kind": "course", "title": langstrings(child(course, "title")), "children": []}
    for sub in root:
        if local(sub.tag) in ("au", "block"):
            tree["children"].append(walk(sub))
    if not units:
        findings.append(Finding("error", "nothing-to-launch", "The course structure has no AU."))
    return ParsedPackage(
        standard="cmi5",
        edition=None,
        identifier=attr(course, "id") or "",
        title=langstrings(child(course, "title")) or {"und": attr(course, "id") or "Untitled course"},
        description=langstrings(child(course, "description")),
        units=units,
        tree=tree,
        findings=findings,
    )


def _cmi5_au(el: Element, au_id: str, url: str, title: dict[str, str], names: set[str] | None,
             findings: list[Finding], objective_ids: set[str | None]) -> LaunchUnit:
    if not url:
        findings.append(Finding("error", "au-without-url", f"AU {au_id} has no url.", au_id))
    parts = urlsplit(url)
    bad = sorted({k for k, _ in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in CMI5_LAUNCH_PARAMS})
    if bad:
        findings.append(Finding("error", "reserved-launch-parameter", f"AU {au_id} url carries cmi5 launch parameters ({', '.join(bad)}); the LMS adds those.", au_id))
    if url and not parts.scheme:
        path = posixpath.normpath(unquote(parts.path))
        if names is None:
            findings.append(Finding("error", "relative-url-without-package", f"AU {au_id} has a relative url but no package files were given.", au_id))
        elif path.startswith("../") or path not in names:
            findings.append(Finding("error", "missing-launch-file", f"AU {au_id} launches {path}, which is not in the package.", au_id))
        url = path + (f"?{parts.query}" if parts.query else "")
    move_on = attr(el, "moveOn", "NotApplicable")
    if move_on not in MOVE_ON:
        findings.append(Finding("error", "invalid-move-on", f"AU {au_id} moveOn {move_on!r} is not one of {', '.join(sorted(MOVE_ON))}.", au_id))
    method = attr(el, "launchMethod", "AnyWindow")
    if method not in ("AnyWindow", "OwnWindow"):
        findings.append(Finding("error", "invalid-launch-method", f"AU {au_id} launchMethod {method!r} is not AnyWindow or OwnWindow.", au_id))
    activity_type = attr(el, "activityType")
    if activity_type and not _IRI.match(activity_type):
        findings.append(Finding("error", "invalid-iri", f"AU {au_id} activityType {activity_type!r} is not an IRI.", au_id))
    refs = [attr(o, "idref") for o in (child(el, "objectives") or []) if attr(o, "idref")]
    for ref in refs:
        if ref not in objective_ids:
            findings.append(Finding("warning", "unknown-objective", f"AU {au_id} references objective {ref} not declared in the course.", au_id))
    mastery = attr(el, "masteryScore")
    mastery_value = None
    if mastery is not None:
        try:
            mastery_value = float(mastery)
            if not 0 <= mastery_value <= 1:
                raise ValueError
        except ValueError:
            findings.append(Finding("error", "invalid-mastery-score", f"AU {au_id} masteryScore {mastery!r} is not a decimal between 0 and 1.", au_id))
            mastery_value = None
    entitlement = text(child(el, "entitlementKey"))
    return LaunchUnit(
        id=au_id,
        title=title,
        launch=url,
        kind="au",
        parameters=text(child(el, "launchParameters")),
        mastery_score=mastery_value,
        launch_method=method,
        move_on=move_on,
        activity_type=activity_type,
        entitlement_key=entitlement,
        objectives=[r for r in refs if r],
        description=langstrings(child(el, "description")),
    )


# xAPI / TinCan ----------------------------------------------------------------------------


def parse_tincan(data: bytes, names: set[str]) -> ParsedPackage:
    root = parse_xml(data, TINCAN_MANIFEST)
    if local(root.tag) != "tincan":
        raise ManifestError("not-a-manifest", f"{TINCAN_MANIFEST} has no <tincan> root element.")
    findings: list[Finding] = []
    activities_el = child(root, "activities")
    activities = children(activities_el, "activity") if activities_el is not None else []
    units: list[LaunchUnit] = []
    nodes = []
    course_activity = None
    for act in activities:
        act_id = attr(act, "id")
        _check_iri(act_id, "activity", findings)
        launch_el = child(act, "launch")
        node = {"id": act_id, "kind": "activity", "type": attr(act, "type"), "title": lang_elements(act, "name"),
                "description": lang_elements(act, "description"), "children": []}
        nodes.append(node)
        if launch_el is None:
            continue
        launch = text(launch_el) or ""
        parts = urlsplit(launch)
        if not parts.scheme:
            path = posixpath.normpath(unquote(parts.path))
            if path.startswith("../") or path not in names:
                findings.append(Finding("error", "missing-launch-file", f"Activity {act_id} launches {path}, which is not in the package.", act_id))
            launch = path + (f"?{parts.query}" if parts.query else "")
        node["unit"] = act_id
        course_activity = course_activity or node
        units.append(LaunchUnit(id=act_id or "", title=node["title"], launch=launch, kind="activity",
                                activity_type=attr(act, "type"), description=node["description"],
                                launch_method=attr(launch_el, "lang")))
    if not units:
        findings.append(Finding("error", "nothing-to-launch", "tincan.xml has no activity with a <launch>."))
    title = (course_activity or {}).get("title") or {"und": (course_activity or {}).get("id") or "Untitled package"}
    return ParsedPackage(
        standard="xapi",
        edition=None,
        identifier=(course_activity or {}).get("id") or "",
        title=title,
        description=(course_activity or {}).get("description") or {},
        units=units,
        tree={"id": (course_activity or {}).get("id"), "kind": "tincan", "children": nodes},
        findings=findings,
    )


def parse_package(standard: str, data: bytes, names: set[str]) -> ParsedPackage:
    if standard == "cmi5":
        return parse_cmi5(data, names)
    if standard == "scorm":
        return parse_scorm(data, names)
    return parse_tincan(data, names)
