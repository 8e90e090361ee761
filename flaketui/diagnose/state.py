"""What a function changes that outlives it: objects changed in place, attributes of
classes and imported modules assigned, registries filled or emptied."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from flaketui.diagnose.catalog import RULES

if TYPE_CHECKING:
    from flaketui.diagnose.facts import FunctionReader


def imported_root(reader: FunctionReader, owner: cst.BaseExpression) -> bool:
    while isinstance(owner, cst.Attribute | cst.Subscript):
        owner = owner.value
    return isinstance(owner, cst.Name) and reader.is_imported_name(owner.value) and owner.value not in reader.module_aliases


def mutated(reader: FunctionReader, owner: cst.BaseExpression, node: cst.CSTNode, removing: bool = False) -> None:
    """``owner`` is changed in place: attribute it to the name at the root of its chain.
    ``removing`` (``del x[k]``, ``x.pop(k)``) on an imported registry is cleanup, not pollution."""
    start, end = reader.lines(node)
    root, attrs = owner, []
    while isinstance(root, cst.Attribute | cst.Subscript):
        if isinstance(root, cst.Attribute):
            attrs.append(root.attr.value)
        root = root.value
    if not isinstance(root, cst.Name):
        return
    base = root.value
    attrs.reverse()
    if base == "self":
        if attrs:
            reader.facts.self_mutated.setdefault(attrs[0], []).append((start, end))
    elif base == "cls":
        if attrs:
            reader.facts.class_assigned.setdefault(attrs[0], []).append((start, end, "cls"))
    elif reader.is_imported_name(base):
        # ``np.add(a, b)`` calls a module's function; ``plugins.register(x)`` (an imported
        # object) and ``myapp.REGISTRY.append(x)`` change state that outlives the test.
        if base in reader.module_aliases and not attrs:
            return
        if (reader.qualify(owner) or "").startswith(("os.environ", "sys.path", "sys.modules")):
            return
        if removing:
            reader.facts.imported_restored.add(base)
        else:
            reader.facts.imported_mutated.append((".".join([base, *attrs]), start, end))
    else:
        reader.facts.mutated.setdefault(base, []).append((start, end))


def assigned(reader: FunctionReader, target: cst.BaseExpression, node: cst.CSTNode, augmented: bool = False) -> None:
    if isinstance(target, cst.Subscript):
        mutated(reader, target.value, node)
    elif isinstance(target, cst.Attribute):
        owner = target.value
        start, end = reader.lines(node)
        if isinstance(owner, cst.Name) and owner.value == "cls":
            reader.facts.class_assigned.setdefault(target.attr.value, []).append((start, end, "cls"))
        elif _is_type_of_self(owner):
            reader.facts.class_assigned.setdefault(target.attr.value, []).append((start, end, "type(self)"))
        elif isinstance(owner, cst.Name) and owner.value not in {"self"} and not reader.is_imported_name(owner.value):
            # ``TestC.x = 1`` (a class of the module) or ``config.debug = True`` (a fixture's object).
            reader.facts.class_assigned.setdefault(target.attr.value, []).append((start, end, owner.value))
            reader.facts.mutated.setdefault(owner.value, []).append((start, end))
        elif isinstance(owner, cst.Attribute) and isinstance(owner.value, cst.Name) and owner.value.value == "self":
            reader.facts.self_mutated.setdefault(owner.attr.value, []).append((start, end))
        elif isinstance(owner, cst.Name) and owner.value != "self":
            reader.facts.imported_assigned.append((f"{owner.value}.{target.attr.value}", start, end))
    elif isinstance(target, cst.Name) and augmented:
        if target.value in reader.facts.globals_declared:
            reader.facts.mutated.setdefault(target.value, []).append(reader.lines(node))


def deleted(reader: FunctionReader, target: cst.BaseExpression, node: cst.CSTNode) -> None:
    if isinstance(target, cst.Subscript):
        if reader.qualify(target.value) == "os.environ":
            rule = next(r for r in RULES if r.id == "fixture.environ-write")
            reader.hit(rule, node, "os.environ.__delitem__")
        mutated(reader, target.value, node, removing=True)


def _is_type_of_self(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Attribute) and node.attr.value == "__class__":
        return isinstance(node.value, cst.Name) and node.value.value == "self"
    return (
        isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "type"
        and len(node.args) == 1 and isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == "self"
    )


def read_modify_write(reader: FunctionReader, target: cst.BaseExpression, node: cst.CSTNode) -> None:
    """``self.count += 1``, ``self.counts[k] = self.counts.get(k, 0) + 1``: a read and a write of
    shared state that another thread can interleave (the caller knows no lock is held)."""
    attribute = _self_attribute(target)
    if attribute is None:
        return
    if isinstance(node, cst.Assign):
        reads: set[str] = self_reads(node.value)
        for name in _names(node.value):
            # ``current = self.levels.get(k)`` ... ``self.levels[k] = current + n``
            reads |= reader.self_derived.get(name, set())
        if attribute not in reads:
            return
    reader.facts.unlocked_updates.append((attribute, reader.lines(node)[0]))


def _self_attribute(node: cst.BaseExpression) -> str | None:
    while isinstance(node, cst.Subscript):
        node = node.value
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def self_reads(node: cst.CSTNode) -> set[str]:
    """The ``self`` attributes an expression reads (a small walk of the usual expression
    shapes: a matcher search on every assignment costs as much as the function's whole read)."""
    found: set[str] = set()
    pending: list[cst.CSTNode] = [node]
    while pending:
        current = pending.pop()
        attribute = _self_attribute(current) if isinstance(current, cst.Attribute) else None
        if attribute is not None:
            found.add(attribute)
        elif isinstance(current, cst.Attribute | cst.Subscript):
            pending.append(current.value)
        elif isinstance(current, cst.Call):
            pending += [current.func, *(a.value for a in current.args)]
        elif isinstance(current, cst.BinaryOperation | cst.BooleanOperation):
            pending += [current.left, current.right]
        elif isinstance(current, cst.UnaryOperation):
            pending.append(current.expression)
        elif isinstance(current, cst.Comparison):
            pending += [current.left, *(t.comparator for t in current.comparisons)]
    return found


def _names(node: cst.BaseExpression) -> list[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, cst.BinaryOperation):
        return _names(node.left) + _names(node.right)
    if isinstance(node, cst.Call):
        return [n for a in node.args for n in _names(a.value)]
    return []
