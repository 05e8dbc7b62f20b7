# Thin aliases for ./dev.sh; pass pytest/bench arguments with ARGS="...".
.PHONY: run test bench

run:
	./dev.sh run

test:
	./dev.sh test $(ARGS)

bench:
	./dev.sh bench $(ARGS)
