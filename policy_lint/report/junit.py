"""JUnit XML for CI systems that show test reports: one test case per checked file (passing
when it has no findings) and one failing test case per finding."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from policy_lint.engine import Report


def render(report: Report) -> str:
    suites = ET.Element("testsuites", name="policy-lint")
    suite = ET.SubElement(suites, "testsuite", name="policy-lint")
    by_path: dict[str, list] = {}
    for f in report.findings:
        by_path.setdefault(f.span.path, []).append(f)
    cases = failures = 0
    for fr in report.files:
        if fr.path not in by_path:
            ET.SubElement(suite, "testcase", classname=fr.path, name="no findings")
            cases += 1
    for path, findings in by_path.items():
        for f in findings:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=path,
                name=f"{f.code} line {f.span.line}" + (f" [{f.service}]" if f.service else ""),
            )
            failure = ET.SubElement(case, "failure", message=f.message, type=f.code)
            failure.text = "\n".join(
                [f"{f.span.where()}: {f.span.text}"]
                + [f"  = {s.where()}: {s.text}" for s in f.trace if s != f.span]
            )
            cases += 1
            failures += 1
    for err in report.errors:
        case = ET.SubElement(suite, "testcase", classname="policy-lint", name="input error")
        ET.SubElement(case, "error", message=err, type="input-error")
        cases += 1
    for skipped in report.skipped:
        case = ET.SubElement(suite, "testcase", classname=skipped.path, name="not linted")
        ET.SubElement(case, "skipped", message=f"{skipped.reason}: not linted (use --dialect)")
        cases += 1
    suite.set("tests", str(cases))
    suite.set("skipped", str(len(report.skipped)))
    suite.set("failures", str(failures))
    suite.set("errors", str(len(report.errors)))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
