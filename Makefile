# The two commands of the quick start: `make demo` and `make test`. Both install what is missing first.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED := true
TSX := node_modules/.bin/tsx

.PHONY: setup demo test typecheck bench-backup
setup:
	@bash scripts/setup.sh

demo: setup
	$(TSX) client/demo.ts

test: setup
	node_modules/.bin/tsc --noEmit -p .
	node_modules/.bin/vitest run

bench-backup: setup
	$(TSX) bench/backup.ts $(ARGS)
