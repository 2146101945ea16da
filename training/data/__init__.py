"""Ingestion: canonical schema, source adapters, validation report, matrices."""
