from flaketui.cli import main

raise SystemExit(main())
