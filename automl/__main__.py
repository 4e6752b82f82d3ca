"""``python -m automl`` runs the command line."""

from automl.cli import main

raise SystemExit(main())
