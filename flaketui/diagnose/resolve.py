"""A light resolver of imports and aliases: what a name in a test really refers to.

libcst's own QualifiedNameProvider builds full scope metadata (about 0.1 s for a 130-line
module); rules only need "which library does this call reach", so one pass over the
imports plus the local bindings of each function is enough: ``from datetime import
datetime as dt; dt.now()`` resolves to ``datetime.datetime.now``, and
``s = requests.Session(); s.get(url)`` to ``requests.Session().get``.
"""

from __future__ import annotations

import libcst as cst


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` as a string, or None when the expression is not a plain dotted name."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def import_aliases(statement: cst.Import | cst.ImportFrom) -> dict[str, str]:
    """The names one import statement binds, mapped to the qualified names they stand for."""
    bound: dict[str, str] = {}
    if isinstance(statement, cst.Import):
        for alias in statement.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                bound[alias.asname.name.value] = full
            else:
                # ``import os.path`` binds ``os``, which still means the package os.
                head = full.split(".", 1)[0]
                bound[head] = head
        return bound
    module = dotted(statement.module) if statement.module is not None else ""
    prefix = "." * len(statement.relative) + (module or "")
    if isinstance(statement.names, cst.ImportStar):
        return bound
    for alias in statement.names:
        if not isinstance(alias.name, cst.Name):
            continue
        name = alias.name.value
        target = f"{prefix}.{name}" if prefix and not prefix.endswith(".") else f"{prefix}{name}"
        local = name
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            local = alias.asname.name.value
        bound[local] = target
    return bound


#: What a name bound to ``[sys.executable, ...]`` resolves to.
ARGV_OF_PYTHON = "<argv>.sys.executable"


class Resolver:
    """Maps expressions to qualified names through module imports and local bindings.

    ``locals`` holds what a function bound itself (``client = httpx.Client()`` makes
    ``client`` stand for ``httpx.Client()``); it shadows the module's imports.
    """

    def __init__(self, module_names: dict[str, str], local_names: dict[str, str] | None = None,
                 self_attributes: dict[str, str] | None = None) -> None:
        self.module_names = module_names
        self.local_names = local_names if local_names is not None else {}
        #: In a method: what ``self.x`` holds, from ``__init__`` and the class's annotations.
        self.self_attributes = self_attributes if self_attributes is not None else {}

    def child(self, self_attributes: dict[str, str] | None = None) -> Resolver:
        return Resolver(self.module_names, dict(self.local_names),
                        self.self_attributes if self_attributes is None else self_attributes)

    def name(self, identifier: str) -> str:
        if identifier in self.local_names:
            return self.local_names[identifier]
        return self.module_names.get(identifier, identifier)

    def qualify(self, node: cst.BaseExpression, depth: int = 0) -> str | None:
        """The qualified name of an expression, ``()`` marking a call result, ``[]`` an item."""
        if depth > 20:
            return None
        if isinstance(node, cst.Name):
            return self.name(node.value)
        if isinstance(node, cst.Attribute):
            if isinstance(node.value, cst.Name) and node.value.value == "self" and node.attr.value in self.self_attributes:
                return self.self_attributes[node.attr.value]
            base = self.qualify(node.value, depth + 1)
            return None if base is None else f"{base}.{node.attr.value}"
        if isinstance(node, cst.Call):
            base = self.qualify(node.func, depth + 1)
            return None if base is None else f"{base}()"
        if isinstance(node, cst.Subscript):
            base = self.qualify(node.value, depth + 1)
            return None if base is None else f"{base}[]"
        if isinstance(node, cst.Set | cst.SetComp):
            return "set()"
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString):
            return "str()"
        if isinstance(node, cst.Await):
            return self.qualify(node.expression, depth + 1)
        return None

    def bind(self, target: cst.BaseAssignTargetExpression | cst.BaseExpression, value: cst.BaseExpression) -> None:
        """Record ``target = value`` when both sides are simple enough to follow."""
        if not isinstance(target, cst.Name):
            return
        qualified = self.qualify(value)
        if isinstance(value, cst.List | cst.Tuple) and value.elements and isinstance(value.elements[0], cst.Element) \
                and self.qualify(value.elements[0].value) == "sys.executable":
            qualified = ARGV_OF_PYTHON  # ``cmd = [sys.executable, ...]``: a command line of our own interpreter
        if qualified is not None and qualified != target.value:
            self.local_names[target.value] = qualified
        else:
            # A rebinding to something we cannot follow hides the import of the same name.
            self.local_names[target.value] = f"<local>.{target.value}"
