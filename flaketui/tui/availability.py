"""Which service features this build has. An engine whose method still raises
NotImplementedError shows as unavailable, with the reason, instead of crashing the app."""

from __future__ import annotations

from flaketui.service import Service

#: The service methods each feature needs.
FEATURES: dict[str, tuple[str, ...]] = {
    "scan": ("scan",),
    "diagnose": ("diagnose", "diagnose_many"),
    "verify": ("verify",),
    "commit": ("plan_fix", "commit_fix", "verify"),
    "undo": ("undo",),
    "decide": ("set_category", "keep_marker", "decisions"),
    "history": ("history",),
    "editor": ("open_in_editor",),
    "repro": ("repro_command",),
}


def is_stub(method: object) -> bool:
    """True when the method's body is only ``raise NotImplementedError`` (an engine not yet built)."""
    code = getattr(getattr(method, "__func__", method), "__code__", None)
    return code is not None and code.co_names == ("NotImplementedError",)


class Availability:
    def __init__(self, service: Service) -> None:
        self._missing: set[str] = {
            feature for feature, names in FEATURES.items() if any(is_stub(getattr(service, n, None)) for n in names)
        }

    def missing(self, feature: str) -> None:
        """A call raised NotImplementedError: stop offering the feature."""
        self._missing.add(feature)

    def reason(self, feature: str) -> str | None:
        if feature in self._missing:
            return f"{feature} is not available in this build of flaketui"
        return None
