"""What flaketui does, one module per workflow, composed by the ``service`` facade.

``scan`` (discovery, the cache, pytest's collection merged in), ``diagnose``, ``verify``
(runs, verdicts, recorded per tree), ``fix`` (a :class:`~flaketui.models.FixPlan` and its
commit, through ``commit_gate``), ``undo``, and ``record`` (decisions, history, audit, CI
gate). ``workspace`` is the repository they share; ``snapshot`` a past tree to look at;
``removal`` and ``commit_text`` are a fix's pure parts (which markers go, the diff and the
message); ``repo`` and ``editor`` serve the app's header and ``e`` key.
"""
