"""Whole-database operations: migrate, check, doctor's database checks, integrity
guards, backup/restore, transfer, stats and the generated schema documents; and
``definitions``, the business definitions (season weeks, week calendars, ids from
natural keys, sell-through) that ingest, queries, domain and the demo all call.

They sit above the models and the connection layer and below the CLI, the domain's
doctor and ``migrations/env.py``, which call them.
"""
