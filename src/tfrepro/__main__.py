from tfrepro.cli import main

raise SystemExit(main())
