"""Discovery: every flaky-marked test of a repository, with pytest's node ids.

``engine.scan_repository`` runs a scan; ``files`` says which files it reads and is light,
since the launcher imports it before git starts; ``cache`` answers an unchanged tree
without loading the parsers.
"""
