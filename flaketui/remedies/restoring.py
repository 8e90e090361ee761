"""What a test (or a fixture) already puts back itself: no polluter there.

``restore.monkeypatch`` turns a test's unrestored changes into ``monkeypatch`` calls. A change
the function undoes is not pollution, and rewriting it would be a wrong proposal: a ``finally``
that assigns the saved value back, a saved value assigned back later (at the test's end, after a
fixture's ``yield``), a change undone by ``addfinalizer``/``addCleanup``, or made inside a
``mock.patch`` (context manager or decorator) that undoes it. And an environment variable that
the code under test set, which the test checks and then removes, is the test cleaning up: put
back by monkeypatch it would outlive the test. Keys are the changed target's text:
``QApplication.processEvents``, ``os.environ["K"]``, ``chdir``.
"""

from __future__ import annotations

import libcst as cst

from flaketui.remedies._cst import code, dotted

_FINALIZERS = (".addfinalizer", ".addCleanup", ".callback")


def _environ_key(node: cst.BaseExpression, environ: set[str]) -> str | None:
    """``os.environ["K"]`` (a subscript of the environment) -> its key's text."""
    if isinstance(node, cst.Subscript) and code(node.value) in environ and len(node.slice) == 1:
        index = node.slice[0].slice
        return code(index.value) if isinstance(index, cst.Index) else None
    return None


def target_key(node: cst.BaseExpression, environ: set[str]) -> str | None:
    """The key of what an assignment target changes."""
    key = _environ_key(node, environ)
    if key is not None:
        return f"os.environ[{key}]"
    if isinstance(node, cst.Attribute | cst.Subscript):
        return code(node)
    return None


def environ_call_key(call: cst.Call, environ: set[str]) -> str | None:
    """``os.environ.pop("K")`` / ``os.environ.setdefault("K", v)`` -> ``os.environ["K"]``."""
    func = call.func
    if isinstance(func, cst.Attribute) and code(func.value) in environ and call.args:
        return f"os.environ[{code(call.args[0].value)}]"
    return None


class _Walk(cst.CSTVisitor):
    def __init__(self, environ: set[str]) -> None:
        self.environ = environ
        #: name -> the key it saved (``saved = QApplication.processEvents``).
        self.saved: dict[str, str] = {}
        self.set_keys: set[str] = set()
        self.removed_after_set: set[str] = set()
        self.restored: set[str] = set()
        #: Environment keys removed, and every key the function mentions before or after.
        self.removed: list[str] = []
        self.mentions: dict[str, int] = {}
        self.cleanup_depth = 0
        self.patched: list[str] = []
        #: The text of what ``addfinalizer``/``addCleanup`` run (a nested function's body included).
        self.finalizers: list[str] = []
        self.nested: dict[str, str] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.nested[node.name.value] = code(node)

    def _key(self, node: cst.BaseExpression) -> str | None:
        return target_key(node, self.environ)

    def visit_Finally(self, node: cst.Finally) -> None:
        self.cleanup_depth += 1

    def leave_Finally(self, node: cst.Finally) -> None:
        self.cleanup_depth -= 1

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Yield):
            self.cleanup_depth += 1  # after a fixture's yield: its teardown (never decremented)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        self.mentions[node.value] = self.mentions.get(node.value, 0) + 1

    def visit_Assign(self, node: cst.Assign) -> None:
        source = code(node.value)
        for target in node.targets:
            key = self._key(target.target)
            if isinstance(target.target, cst.Name):
                saved = self._key(node.value) or _environ_read_key(node.value, self.environ)
                if saved is None and isinstance(node.value, cst.Call) and (dotted(node.value.func) or "").endswith("getcwd"):
                    saved = "chdir"
                if saved is not None:
                    self.saved[target.target.value] = saved
                continue
            if key is None:
                continue
            self._set(key, source)

    def _set(self, key: str, value: str) -> None:
        if (key in self.set_keys and self.cleanup_depth) or self.saved.get(value) == key:
            self.restored.add(key)  # assigned back: in a finally, a teardown, or from its saved value
        self.set_keys.add(key)

    def visit_Del(self, node: cst.Del) -> None:
        key = self._key(node.target)
        if key is not None:
            self._removed(key)

    def visit_Call(self, node: cst.Call) -> None:
        name = dotted(node.func) or ""
        if name.endswith(_FINALIZERS):
            self.finalizers += [code(node)] + [self.nested.get(code(a.value), "") for a in node.args]
        elif "mock.patch" in name or name.startswith("patch"):
            self.patched += _patch_prefixes(node)
        elif name.endswith("chdir") and node.args:
            self._set("chdir", code(node.args[0].value))
        key = environ_call_key(node, self.environ)
        if key is None or not isinstance(node.func, cst.Attribute):
            return
        if node.func.attr.value == "pop":
            self._removed(key)
        elif node.func.attr.value == "setdefault":
            self.set_keys.add(key)

    def _removed(self, key: str) -> None:
        if key in self.set_keys:
            self.restored.add(key)  # the test set it and removes it: its own cleanup
        self.removed.append(key)


def _mentioned(key: str, text: str) -> bool:
    """``QApplication.processEvents`` in ``setattr(QApplication, "processEvents", saved)`` too."""
    if not text:
        return False
    if key in text:
        return True
    owner, _, attribute = key.rpartition(".")
    return bool(owner) and owner in text and attribute.isidentifier() and attribute in text


def _patch_prefixes(call: cst.Call) -> list[str]:
    """What a ``mock.patch...`` call undoes when it ends: ``os.environ`` for ``patch.dict(os.environ)``,
    ``X.attr`` for ``patch.object(X, "attr")``, ``mod.attr`` for ``patch("pkg.mod.attr")``."""
    args = [a.value for a in call.args if a.keyword is None]
    if not args:
        return []
    name = dotted(call.func) or ""
    if name.endswith(".object") and len(args) > 1 and isinstance(args[1], cst.SimpleString):
        attribute = args[1].evaluated_value
        return [f"{code(args[0])}.{attribute}"] if isinstance(attribute, str) else []
    if isinstance(args[0], cst.SimpleString):
        text = args[0].evaluated_value
        return [".".join(text.split(".")[-2:])] if isinstance(text, str) else []
    return [code(args[0])]


def _environ_read_key(node: cst.BaseExpression, environ: set[str]) -> str | None:
    """``os.environ.get("K")`` / ``os.getenv("K")`` -> ``os.environ["K"]``."""
    if isinstance(node, cst.Call) and node.args:
        name = dotted(node.func) or ""
        if (isinstance(node.func, cst.Attribute) and code(node.func.value) in environ and node.func.attr.value == "get") \
                or name.endswith("getenv"):  # fmt: skip
            return f"os.environ[{code(node.args[0].value)}]"
    return None


def environ_spellings(names: dict[str, str]) -> set[str]:
    """How the module spells ``os.environ`` (``os.environ``, ``environ``)."""
    return {"os.environ"} | {local for local, q in names.items() if q == "os.environ"} | {
        f"{local}.environ" for local, q in names.items() if q == "os"}


def restored_by(function: cst.FunctionDef, environ: set[str]) -> set[str]:
    """Keys of what ``function`` changes and puts back itself (or, for the environment, what the
    code under test set and the test removes after reading it: its cleanup, not a change)."""
    walk = _Walk(environ)
    for decorator in function.decorators:
        node = decorator.decorator
        name = dotted(node.func) if isinstance(node, cst.Call) else None
        if isinstance(node, cst.Call) and name is not None and ("mock.patch" in name or name.startswith("patch")):
            walk.patched += _patch_prefixes(node)
    function.visit(walk)
    restored = set(walk.restored)
    for key in walk.removed:
        literal = key.removeprefix("os.environ[").removesuffix("]")
        if key not in walk.set_keys and walk.mentions.get(literal, 0) > 1:
            restored.add(key)  # read and removed, never set here: the code under test set it
    everything = walk.set_keys | set(walk.removed)
    finalized = "\n".join(walk.finalizers)
    restored |= {k for k in everything if _mentioned(k, finalized)}
    for prefix in walk.patched:
        restored |= {k for k in everything if k == prefix or k.startswith((prefix + ".", prefix + "["))}
    return restored
