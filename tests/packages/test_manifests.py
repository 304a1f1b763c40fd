"""Manifest parsing: every standard, the quirks authoring tools produce, and hostile XML."""

from __future__ import annotations

import io
import time

import pytest

from app.packages import manifests, safezip
from app.packages.manifests import ManifestError
from tests.packages import builders

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent


def _parse(blob: bytes):
    report = safezip.inspect(io.BytesIO(blob), safezip.ZipLimits())
    assert report.ok, report.errors
    names = {safezip.strip_root(e.name, report.root_prefix) for e in report.entries}
    standard = manifests.detect(names)
    entry = next(e for e in report.entries if safezip.strip_root(e.name, report.root_prefix) == {
        "scorm": "imsmanifest.xml", "cmi5": "cmi5.xml", "xapi": "tincan.xml"}[standard])
    return manifests.parse_package(standard, safezip.read_member(io.BytesIO(blob), entry, safezip.ZipLimits()), names)


def test_scorm12_storyline_export_with_bom():
    pkg = _parse(builders.scorm12())
    assert pkg.standard == "scorm12" and pkg.identifier == "asylum_storyline_1"
    assert not pkg.errors
    [unit] = pkg.units
    assert unit.launch == "index_lms.html" and unit.kind == "sco"
    assert unit.mastery_score == 80 and unit.data_from_lms == "lang=sr-Latn"
    assert unit.max_time_allowed == "01:30:00" and unit.time_limit_action == "continue,no message"
    assert pkg.title == {"und": "Asylum interviews"}
    assert pkg.tree["children"][0]["default"] is True


def test_scorm12_inside_one_top_level_folder():
    report = safezip.inspect(io.BytesIO(builders.scorm12(folder="Asylum_Output/")), safezip.ZipLimits())
    assert report.root_prefix == "Asylum_Output/"
    pkg = _parse(builders.scorm12(folder="Asylum_Output/"))
    assert pkg.units[0].launch == "index_lms.html"


def test_scorm2004_4th_edition_with_xml_base_sequencing_and_shared_data():
    pkg = _parse(builders.scorm2004())
    assert (pkg.standard, pkg.edition) == ("scorm2004", "4th")
    assert pkg.title == {"en": "Identification of vulnerable migrants", "bs": "Identifikacija ranjivih migranata"}
    assert pkg.description == {"en": "Indicators and referral."}
    by_id = {u.id: u for u in pkg.units}
    assert by_id["MOD1"].launch == "content/res/m1/index.html"
    assert by_id["MOD1"].completion_threshold == 0.8 and by_id["MOD1"].scaled_passing_score == 0.7
    assert by_id["MOD1"].objectives == ["PRIMARY"]
    assert by_id["MOD2"].launch == "content/res/m2/start.html" and by_id["MOD2"].parameters == "?chapter=2"
    org = pkg.tree["children"][0]
    assert [c["id"] for c in org["children"]] == ["MOD1", "MOD2", "HIDDEN"]
    assert org["children"][2]["hidden"] is True
    assert org["sequencing"]["children"][0]["attributes"] == {"choice": "true", "flow": "true"}
    assert pkg.extra["shared_data"][0]["id"] == "urn:rmtc:shared:notes"
    assert "sequencing_collection" in pkg.extra
    assert not pkg.errors
    assert any(f.code == "missing-file" and "missing.css" in f.message for f in pkg.findings)


@pytest.mark.parametrize("schemaversion,edition", [("CAM 1.3", "2nd"), ("2004 3rd Edition", "3rd"), ("2004 4th Edition", "4th")])
def test_scorm2004_editions(schemaversion, edition):
    xml = builders.SCORM2004_MANIFEST.replace("2004 4th Edition", schemaversion)
    pkg = manifests.parse_scorm(xml.encode(), {"content/res/m1/index.html", "content/res/m2/start.html"})
    assert (pkg.standard, pkg.edition) == ("scorm2004", edition)


def test_scorm_errors_block_the_import():
    bad_default = builders.SCORM12_MANIFEST.replace('default="ORG-1"', 'default="NOPE"')
    pkg = manifests.parse_scorm(bad_default.encode(), {"index_lms.html"})
    assert "missing-default-organization" in {f.code for f in pkg.errors}
    bad_ref = builders.SCORM12_MANIFEST.replace('identifierref="RES-1"', 'identifierref="RES-X"')
    assert "missing-resource" in {f.code for f in manifests.parse_scorm(bad_ref.encode(), {"index_lms.html"}).errors}
    no_launch = manifests.parse_scorm(builders.SCORM12_MANIFEST.encode(), {"story_content/data.js"})
    assert "missing-launch-file" in {f.code for f in no_launch.errors}


def test_cmi5_course_structure():
    pkg = _parse(builders.cmi5())
    assert pkg.standard == "cmi5" and not pkg.errors
    intro, remote = pkg.units
    assert intro.launch == "au1/index.html?lang=en" and intro.move_on == "CompletedOrPassed"
    assert intro.mastery_score == 0.75 and intro.launch_method == "OwnWindow"
    assert intro.parameters == '{"difficulty": "basic"}' and intro.entitlement_key == "rmtc-2026"
    assert intro.objectives == ["https://rmtc.example/objectives/avr"]
    assert remote.launch == "https://content.example.org/au2/" and remote.launch_method == "AnyWindow"
    assert pkg.tree["children"][0]["kind"] == "block" and pkg.tree["children"][0]["children"][0]["kind"] == "au"
    assert pkg.title["mk"] == "Советување за враќање"


def test_bare_cmi5_xml_with_remote_aus_only():
    xml = builders.CMI5_XML.replace("<url>au1/index.html?lang=en</url>", "<url>https://content.example.org/au1/</url>")
    pkg = manifests.parse_cmi5(xml.encode(), None)
    assert not pkg.errors
    relative = manifests.parse_cmi5(builders.CMI5_XML.encode(), None)
    assert "relative-url-without-package" in {f.code for f in relative.errors}


@pytest.mark.parametrize(
    "change,code",
    [
        (('id="https://rmtc.example/aus/remote"', 'id="not an iri"'), "invalid-iri"),
        (('id="https://rmtc.example/aus/remote"', 'id="https://rmtc.example/aus/intro"'), "duplicate-id"),
        (("au1/index.html?lang=en", "au1/index.html?endpoint=https://evil&amp;lang=en"), "reserved-launch-parameter"),
        (("au1/index.html?lang=en", "au1/missing.html"), "missing-launch-file"),
        (('moveOn="Passed"', 'moveOn="Whenever"'), "invalid-move-on"),
        (('masteryScore="0.75"', 'masteryScore="75"'), "invalid-mastery-score"),
        (('launchMethod="OwnWindow"', 'launchMethod="Popup"'), "invalid-launch-method"),
    ],
)
def test_cmi5_validation(change, code):
    xml = builders.CMI5_XML.replace(*change)
    pkg = manifests.parse_cmi5(xml.encode(), {"au1/index.html", "au1/app.js"})
    assert code in {f.code for f in pkg.errors}


def test_tincan():
    pkg = _parse(builders.tincan())
    assert pkg.standard == "xapi" and not pkg.errors
    [unit] = pkg.units
    assert unit.id == "https://rmtc.example/xapi/crisis-preparedness" and unit.launch == "index.html"
    assert pkg.title == {"en-US": "Crisis preparedness", "sr-Latn": "Spremnost za krizne situacije"}
    assert len(pkg.tree["children"]) == 2


@pytest.mark.parametrize("parser", [manifests.parse_scorm, manifests.parse_tincan, lambda d, n: manifests.parse_cmi5(d, n)])
@pytest.mark.parametrize("xml", [builders.XXE, builders.BILLION_LAUGHS])
def test_hostile_xml_is_refused_fast(parser, xml):
    started = time.perf_counter()
    with pytest.raises(ManifestError) as info:
        parser(xml.encode(), set())
    assert info.value.code == "unsafe-xml"
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("xml", [b"", b"<manifest", b"\xff\xfe<x/>", b"<notamanifest/>"])
def test_malformed_manifests(xml):
    with pytest.raises(ManifestError):
        manifests.parse_scorm(xml, set())


def test_detect():
    assert manifests.detect({"cmi5.xml", "imsmanifest.xml"}) == "cmi5"
    assert manifests.detect({"imsmanifest.xml", "tincan.xml"}) == "scorm"
    assert manifests.detect({"tincan.xml"}) == "xapi"
    assert manifests.detect({"index.html"}) is None
