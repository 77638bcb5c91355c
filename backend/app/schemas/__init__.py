"""Pydantic shapes: JSON column payloads, CSV rows and read models."""
