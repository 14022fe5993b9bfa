"""`python -m wxmember` is the same as the `wxmember` command."""

from wxmember.cli import main

raise SystemExit(main())
