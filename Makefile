.PHONY: quickstart test lint bootstrap schema

quickstart:
	scripts/quickstart

test:
	scripts/test

lint:
	.venv/bin/ruff check src tests benchmarks && .venv/bin/mypy && .venv/bin/lint-imports

bootstrap:
	scripts/bootstrap

# Regenerate the checked-in JSON Schema and sample estate after changing estate/models.py.
schema:
	.venv/bin/odooplane schema > src/odooplane/estate/estate.schema.json
	.venv/bin/odooplane schema --sample > docs/estate.sample.yaml
	.venv/bin/odooplane schema --markdown > docs/estate-reference.md
