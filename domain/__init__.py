"""The clinic's own language: aggregates, value objects, rules. Imports no infrastructure."""
