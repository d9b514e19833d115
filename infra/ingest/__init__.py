"""Ingestion sources: what reads a CSV file, a partner's API or a FHIR Bundle into source rows
for the ingestion use case (commands/ingest/)."""
