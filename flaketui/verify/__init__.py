"""The verification engine: the only place that starts pytest.

``engine.verify_targets`` runs tests N times through ``probe.py`` (a pytest plugin loaded into
the target's own interpreter) and returns ``Verification`` values; ``interpreter`` finds that
interpreter, ``targets`` the rootdir of a node id. Imported lazily by the service.
"""
