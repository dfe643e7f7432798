from pyenvmod.cli import main

raise SystemExit(main())
