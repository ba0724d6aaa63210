"""``python -m airflow_azml.cli``: the same as the ``azml`` command."""

import sys

from airflow_azml.cli import main

sys.exit(main())
