"""``python -m flaketui``."""

from flaketui.launch import main

raise SystemExit(main())
