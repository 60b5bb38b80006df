"""Pure models and rules: no web, database or crypto imports (enforced by import-linter)."""
