"""Ingestion: directory data from CSV files, partner APIs and FHIR Bundles, row by row through
the directory's own use cases (docs/ingest.md, decisions 0047 and 0048)."""
