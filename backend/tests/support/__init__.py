"""What the tests share; the test modules beside this package hold tests only.

- ``rows``: the one builder of sample rows (``SampleRows``, ``valid_row``).
- ``samples``: the datasets built with it (``every_table``, ``small_season``, ...).
- ``snapshot``: the one snapshot of every table (``snapshot``, ``assert_kept``).
- ``cli``: the one ``ffdb`` runner (``run_ffdb`` -> ``Result``) and its table readers.
- ``databases``: the one per-backend cache of migrated databases (``DatabaseCache``).
- ``backends``: the two backends, PostgreSQL test databases, ``migrate``, ``in_ci``.
- ``exports``: the export files the import tests read (``data/`` and ``../shared``).
- ``schema``, ``sql``, ``expected_reads``: schema facts, plain SQL on a URL, the read
  tests' independent answers.
- ``workers``: code the reliability tests run in child processes.
- ``postgres_tally``: the pytest plugin that counts PostgreSQL tests.
"""
