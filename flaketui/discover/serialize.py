"""ScanResult to and from plain JSON data: the ``scan --json`` shape and the cache's."""

from __future__ import annotations

from typing import Any

from flaketui.models import (
    Finding,
    FlakyTest,
    Marker,
    MarkerKind,
    MarkerScope,
    ScanResult,
    Skipped,
)


def marker_to_json(marker: Marker) -> dict[str, Any]:
    return {
        "kind": str(marker.kind),
        "scope": str(marker.scope),
        "path": marker.path,
        "line": marker.line,
        "end_line": marker.end_line,
        "source": marker.source,
        "args": dict(marker.args),
        "positional": list(marker.positional),
        "via": marker.via,
        "condition": marker.condition,
    }


def test_to_json(test: FlakyTest) -> dict[str, Any]:
    return {
        "nodeid": test.nodeid,
        "rootdir": test.rootdir,
        "path": test.path,
        "line": test.line,
        "end_line": test.end_line,
        "name": test.name,
        "class": test.class_name,
        "marker": marker_to_json(test.marker),
        "markers": [marker_to_json(m) for m in test.markers],
        "requires": list(test.requires),
        "skipped_here": test.skipped_here,
    }


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {"kind": finding.kind, "path": finding.path, "line": finding.line, "message": finding.message, "source": finding.source}


def scan_to_json(result: ScanResult) -> dict[str, Any]:
    return {
        "tests": [test_to_json(t) for t in result.tests],
        "findings": [finding_to_json(f) for f in result.findings],
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
    }


def marker_from_json(data: dict[str, Any]) -> Marker:
    return Marker(
        kind=MarkerKind(data["kind"]),
        scope=MarkerScope(data["scope"]),
        path=data["path"],
        line=data["line"],
        source=data["source"],
        args=tuple((k, v) for k, v in data["args"].items()),
        positional=tuple(data.get("positional", ())),
        end_line=data.get("end_line"),
        via=data.get("via"),
        condition=data.get("condition"),
    )


def scan_from_json(data: dict[str, Any], root: str, *, files_scanned: int = 0, from_cache: bool = False) -> ScanResult:
    tests = tuple(
        FlakyTest(
            nodeid=t["nodeid"],
            rootdir=t["rootdir"],
            path=t["path"],
            line=t["line"],
            name=t["name"],
            markers=tuple(marker_from_json(m) for m in t["markers"]),
            class_name=t["class"],
            end_line=t.get("end_line"),
            requires=tuple(t.get("requires", ())),
            skipped_here=t.get("skipped_here"),
        )
        for t in data["tests"]
    )
    findings = tuple(Finding(f["kind"], f["path"], f["line"], f["message"], f.get("source", "")) for f in data["findings"])
    skipped = tuple(Skipped(s["path"], s["reason"]) for s in data["skipped"])
    return ScanResult(root, tests, findings, skipped, files_scanned=files_scanned, from_cache=from_cache)
