"""Question bank files as trainers bring them from Moodle (written for these tests)."""

GIFT_BANK = r"""// Bank: identification of vulnerable persons in asylum procedures
// Exported from the regional Moodle, with Serbian (Latin) translations.

$CATEGORY: $course$/top/Vulnerability/Indicators

// [tag:vulnerability] [tag:children]
::UAC definition::{mlang en}Who is an unaccompanied child?{mlang}{mlang sr_lt}Ko je dete bez pratnje?{mlang} {
	={mlang en}A person under 18 without a responsible adult{mlang}{mlang sr_lt}Lice mlađe od 18 godina bez odgovorne odrasle osobe{mlang}#{mlang en}Correct.{mlang}{mlang sr_lt}Tačno.{mlang}
	~%50%{mlang en}A person under 18 travelling alone{mlang}{mlang sr_lt}Lice mlađe od 18 koje putuje samo{mlang}#Nearly: a relative may be responsible.
	~{mlang en}Any asylum seeker under 21{mlang}{mlang sr_lt}Svaki tražilac azila mlađi od 21{mlang}
	####{mlang en}See Article 2 of the Qualification Directive.{mlang}{mlang sr_lt}Videti član 2 Direktive o kvalifikaciji.{mlang}
}

// [tag:vulnerability]
::Indicators of trafficking::Which are indicators of trafficking in human beings? {
	~%50%Someone else holds the person's identity documents
	~%50%The person cannot move freely
	~%-100%The person travels with a valid visa
}

// Exported by Moodle: the braces of the language blocks are escaped.
::Torture survivors::\{mlang en\}Medical evidence of torture must be documented before the personal interview.\{mlang\}\{mlang sr_lt\}Medicinski dokazi o mučenju moraju se dokumentovati pre ličnog intervjua.\{mlang\}{TRUE#The Istanbul Protocol asks for documentation.#Right: document it early.}

::EURODAC::The fingerprint database of the EU asylum system is called {=EURODAC =%50%Eurodac database#Almost: just the name.}.

::Registration deadline::Within how many days must an application made to an authority not competent to register it be registered? {#6:0#Six days (APR Art. 27).}

::Age range::Up to which age (in years) is a person a child under the EU acquis? {#17.5..18.5}

$CATEGORY: $course$/top/Vulnerability/Referral

::Referral::Match each vulnerability with the service the person is referred to. {
	=Survivor of torture -> Medical and psychological care
	=Victim of trafficking -> National referral mechanism
	=Unaccompanied child -> Guardianship authority
	= -> Border police
}

// A description is no question: skipped.
::Intro::The next questions use the case of Amira, 16, from Syria.

::Case of Amira::Describe how you would identify Amira's special procedural needs. {####A good answer mentions age assessment safeguards and a guardian.}

::Escapes::Which article says: fifty percent \= half\: \{sic\}? {=Art 5 \#1 =Article 5}
"""

GIFT_BROKEN = r"""::Good::A good question {=yes ~no}

::No answer block end::What is the Dublin III Regulation? {=A regulation

::Only one answer::Pick one {~only}

::Too heavy::Weights {~%150%a ~b}

::Bad number::How many? {#many}

::Wildcard::Country of first entry? {=Gr*ce}

::Bad language::{mlang xx_yy_zz}Hello{mlang}{mlang en}Hello{mlang} {T}
"""


MOODLE_XML_BANK = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category">
    <category><text>$course$/top/Default for Asylum/Vulnerability</text></category>
  </question>
  <question type="multichoice">
    <name><text>Special procedural guarantees</text></name>
    <questiontext format="html">
      <text><![CDATA[<p><span lang="en" class="multilang">Who needs <b>special procedural guarantees</b>?</span><span lang="sr_lt" class="multilang">Kome su potrebne <b>posebne procesne garancije</b>?</span></p>]]></text>
    </questiontext>
    <generalfeedback format="html"><text><![CDATA[<p>Recital 29, Asylum Procedures Directive.</p>]]></text></generalfeedback>
    <defaultgrade>2.0000000</defaultgrade>
    <penalty>0.3333333</penalty>
    <hidden>0</hidden>
    <single>true</single>
    <shuffleanswers>true</shuffleanswers>
    <answernumbering>abc</answernumbering>
    <answer fraction="100" format="html">
      <text><![CDATA[<p>A survivor of torture</p>]]></text>
      <feedback format="html"><text>Yes.</text></feedback>
    </answer>
    <answer fraction="0" format="html">
      <text><![CDATA[<p>An applicant from a safe country of origin</p>]]></text>
      <feedback format="html"><text></text></feedback>
    </answer>
    <tags><tag><text>vulnerability</text></tag><tag><text>APD</text></tag></tags>
  </question>
  <question type="multichoiceset">
    <name><text>Trafficking indicators (all or nothing)</text></name>
    <questiontext format="moodle_auto_format"><text>Select every indicator of trafficking.</text></questiontext>
    <defaultgrade>1</defaultgrade>
    <answer fraction="100"><text>Documents held by another person</text></answer>
    <answer fraction="100"><text>Debt to the travel organiser</text></answer>
    <answer fraction="0"><text>Travelling with family</text></answer>
  </question>
  <question type="truefalse">
    <name><text>Age assessment</text></name>
    <questiontext format="html"><text><![CDATA[<p>Medical age assessment is the first resort.</p>]]></text></questiontext>
    <answer fraction="0"><text>true</text><feedback><text>No: the last resort.</text></feedback></answer>
    <answer fraction="100"><text>false</text><feedback><text>Right.</text></feedback></answer>
  </question>
  <question type="shortanswer">
    <name><text>Database</text></name>
    <questiontext format="html"><text>Name the EU fingerprint database.</text></questiontext>
    <usecase>1</usecase>
    <answer fraction="100"><text>EURODAC</text><feedback><text></text></feedback></answer>
    <answer fraction="50"><text>Eurodac</text></answer>
    <answer fraction="0"><text>*</text><feedback><text>Think of fingerprints.</text></feedback></answer>
  </question>
  <question type="numerical">
    <name><text>Days</text></name>
    <questiontext format="html"><text>Days to register an application?</text></questiontext>
    <defaultgrade>1</defaultgrade>
    <answer fraction="100"><text>3</text><tolerance>0</tolerance><feedback><text>Three days.</text></feedback></answer>
    <answer fraction="50"><text>6</text><tolerance>0</tolerance></answer>
    <units><unit><multiplier>1</multiplier><unit_name>days</unit_name></unit></units>
  </question>
  <question type="matching">
    <name><text>Referral</text></name>
    <questiontext format="html"><text>Match.</text></questiontext>
    <shuffleanswers>true</shuffleanswers>
    <subquestion format="html"><text>Torture survivor</text><answer><text>Medical care</text></answer></subquestion>
    <subquestion format="html"><text>Unaccompanied child</text><answer><text>Guardian</text></answer></subquestion>
    <subquestion format="html"><text></text><answer><text>Detention</text></answer></subquestion>
  </question>
  <question type="ordering">
    <name><text>Procedure steps</text></name>
    <questiontext format="html"><text>Put the steps in order.</text></questiontext>
    <gradingtype>ABSOLUTE_POSITION</gradingtype>
    <answer fraction="3.0000000" format="moodle_auto_format"><text>Personal interview</text></answer>
    <answer fraction="1.0000000" format="moodle_auto_format"><text>Making the application</text></answer>
    <answer fraction="2.0000000" format="moodle_auto_format"><text>Registration</text></answer>
    <answer fraction="4.0000000" format="moodle_auto_format"><text>Decision</text></answer>
  </question>
  <question type="essay">
    <name><text>Interview plan</text></name>
    <questiontext format="html"><text><![CDATA[<p>Plan the interview of a traumatised applicant.<img src="@@PLUGINFILE@@/room.png" alt="room"></p>]]></text></questiontext>
    <graderinfo format="html"><text>Look for a trauma-informed approach.</text></graderinfo>
    <maxwordlimit>400</maxwordlimit>
  </question>
  <question type="description">
    <name><text>Read this</text></name>
    <questiontext format="html"><text>Background.</text></questiontext>
  </question>
</quiz>
"""

MOODLE_XML_BROKEN = """<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="multichoice">
    <name><text>No correct answer</text></name>
    <questiontext format="html"><text>Pick</text></questiontext>
    <single>true</single>
    <answer fraction="0"><text>a</text></answer>
    <answer fraction="0"><text>b</text></answer>
  </question>
  <question type="calculated">
    <name><text>Formula</text></name>
    <questiontext format="html"><text>{a} + {b}?</text></questiontext>
  </question>
  <question type="truefalse">
    <name><text>Fine</text></name>
    <questiontext format="html"><text>Fine?</text></questiontext>
    <answer fraction="100"><text>true</text></answer>
    <answer fraction="0"><text>false</text></answer>
  </question>
  <question type="numerical">
    <name><text>Not a number</text></name>
    <questiontext format="html"><text>How many?</text></questiontext>
    <answer fraction="abc"><text>three</text></answer>
  </question>
</quiz>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<quiz><question type="truefalse"><name><text>&lol4;</text></name></question></quiz>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE quiz [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<quiz><question type="essay"><name><text>x</text></name><questiontext><text>&secret;</text></questiontext></question></quiz>
"""
