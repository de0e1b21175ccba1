# The two commands of the quick start: `make demo` and `make test`. Both install what is missing first.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true
TSX := node_modules/.bin/tsx

.PHONY: setup demo test lint typecheck bench-backup
setup:
	@bash scripts/setup.sh

demo: setup
	node dist/current/client/demo.js

test: setup lint
	node_modules/.bin/vitest run

# Types, lint rules (typescript-eslint, the workflow sandbox's import rules) and formatting.
lint: setup
	node_modules/.bin/tsc --noEmit -p .
	node_modules/.bin/eslint --max-warnings 0 .
	node_modules/.bin/prettier --check --log-level warn .

bench-backup: setup
	$(TSX) bench/backup.ts $(ARGS)
