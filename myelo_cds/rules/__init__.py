"""Rule engine: facts, decision tables, evaluation and verification."""
