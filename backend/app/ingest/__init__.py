"""Loading retailer exports: CSV in, validated rows, one set-based move per import.

Pipeline, one module per job: ``reader`` (CSV with line numbers, BOM, encoding and
delimiter diagnosis) -> ``formats`` (which export is this, from its header) ->
``normalize`` / ``fields`` (retailer spellings and typed values) -> staging (rows
streamed into a TEMP table by ``maintenance/bulk_move.py``, shared with the write
API's batch calls) -> ``checks`` (set-based validation returning line numbers) -> the
importers (``stores``, ``historical_sales``, ``actuals``) that move staged rows by key
with ``bulk_move.upsert``; ``export`` writes what they read back.
"""
