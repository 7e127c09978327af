# dcc: Deep Compression toolchain and sparse-accelerator emulator.
# Quiet by default (V=1 shows commands); `make help` lists the targets.

PREFIX   ?= /usr/local
CC       ?= cc
OPT      ?= -O3
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS += -Ilib -Iformats -D_GNU_SOURCE
DCC_CFLAGS = -std=c11 $(WARN) -pthread -fno-strict-aliasing -ffp-contract=off
LIBS     := -lopenblas -llapacke -lpng -lzstd -lz -ljansson -lprotobuf-c -lm -lpthread
# ONNX's own schema (Debian's libonnx-dev), compiled by protoc-c at build time
ONNX_PROTO ?= /usr/include/onnx/onnx.proto

comma := ,
# SAN=address,undefined builds everything into build/san-... with sanitizers.
SAN      ?=
ifeq ($(SAN),)
BUILD    := build/release
BIN      := dcc
LIBA     := lib/libdcc.a
SANFLAGS :=
else
BUILD    := build/san-$(subst $(comma),-,$(SAN))
BIN      := $(BUILD)/dcc
LIBA     := $(BUILD)/libdcc.a
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(wildcard lib/core/*.c lib/nn/*.c lib/prune/*.c lib/share/*.c lib/fixed/*.c lib/encode/*.c lib/accel/*.c lib/svd/*.c lib/plot/*.c) $(wildcard formats/*.c)
CMD_SRC  := $(wildcard cmd/*.c)
GEN      := $(BUILD)/gen
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(GEN)/onnx.pb-c.o $(GEN)/energy_tables.o
ENERGY_TABLES := $(wildcard formats/energy/*.energy)
CPPFLAGS += -I$(GEN)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
HDRS     := $(wildcard lib/*.h lib/*/*.h formats/*.h cmd/*.h)

.PHONY: all help deps check check-fast check-san unit cli pytests fuzz fuzz-replay \
	bench demo install uninstall clean

## all: build lib/libdcc.a and ./dcc (the default)
all: $(BIN)

help:
	@sed -n 's/^## //p' Makefile

$(BUILD)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(DCC_CFLAGS) $(CFLAGS) $(SANFLAGS) -c -o $@ $<

$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(GEN)
	@$(if $(Q),echo "  PROTOC  $<")
	$(Q)protoc-c --c_out=$(GEN) -I$(dir $<) $(notdir $<)

# generated code: compiled without -Werror (its warnings are not ours)
$(GEN)/onnx.pb-c.o: $(GEN)/onnx.pb-c.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) -std=c11 -w $(CFLAGS) $(SANFLAGS) -c -o $@ $<

$(filter $(BUILD)/formats/onnx%,$(LIB_OBJ)): $(GEN)/onnx.pb-c.h

# the energy tables dcc ships, built in (formats/energy.md)
$(GEN)/energy_tables.c: $(ENERGY_TABLES) tools/embed_energy.sh
	@mkdir -p $(GEN)
	$(Q)sh tools/embed_energy.sh $(ENERGY_TABLES) >$@.tmp && mv $@.tmp $@
$(GEN)/energy_tables.o: $(GEN)/energy_tables.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(DCC_CFLAGS) $(CFLAGS) $(SANFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIBA)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(DCC_CFLAGS) $(CFLAGS) $(SANFLAGS) -o $@ $(CMD_OBJ) $(LIBA) $(LIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c tests/unit/check.h $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(DCC_CFLAGS) $(CFLAGS) $(SANFLAGS) -o $@ $< $(LIBA) $(LIBS)

$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(DCC_CFLAGS) $(CFLAGS) $(SANFLAGS) -o $@ $< tests/fuzz/replay.c $(LIBA) $(LIBS)

## deps: install the Debian packages dcc builds, tests and runs with (apt-get, as root)
deps:
	$(Q)sh tools/deps.sh build

## check: install what is missing, build, run every test, then again under ASan+UBSan
check: deps
	$(Q)$(MAKE) --no-print-directory check-fast
	$(Q)$(MAKE) --no-print-directory check-fast SAN=address,undefined OPT=-O1 TESTS_SAN=1

# One pass of the suite with the current build variant.
check-fast: $(BIN) $(UNIT_BIN) $(FUZZ_REPLAY)
	$(Q)DCC=$(abspath $(BIN)) BUILD=$(BUILD) sh tests/run.sh

## fuzz: run each libFuzzer target for FUZZ_SECONDS (default 60) with clang
FUZZ_SECONDS ?= 60
fuzz: deps
	$(Q)sh tests/fuzz/run.sh $(FUZZ_SECONDS)

## bench: print speed and quality figures beside peers measured in the same run
bench: deps $(BIN) $(BUILD)/bench/huffbench $(BUILD)/bench/gemmfloor
	$(Q)sh tools/deps.sh bench
	$(Q)DCC=$(abspath $(BIN)) HUFFBENCH=$(abspath $(BUILD)/bench/huffbench) \
		GEMMFLOOR=$(abspath $(BUILD)/bench/gemmfloor) sh bench/run.sh

$(BUILD)/bench/%: bench/%.c $(LIBA)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(DCC_CFLAGS) $(CFLAGS) -o $@ $< $(LIBA) $(LIBS)

## demo: install what is missing, build, and run examples/lenet300 end to end
demo: deps $(BIN)
	$(Q)$(MAKE) --no-print-directory -C examples/lenet300 DCC=$(abspath $(BIN)) demo

## install: install dcc, libdcc.a, the headers, man pages and dcc.pc under PREFIX
install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/dcc
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libdcc.a
	install -m 644 lib/dcc*.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	for f in man/*.5; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man5/ || true; done
	for f in man/*.7; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(PREFIX)/share/man/man7/ || true; done
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/.*DCC_VERSION_STRING "\(.*\)"/\1/p' lib/dcc.h)|' \
		-e 's|@LIBS@|$(LIBS)|' dcc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/dcc.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/dcc $(DESTDIR)$(PREFIX)/lib/libdcc.a \
		$(DESTDIR)$(PREFIX)/include/dcc*.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/dcc.pc
	rm -f $(patsubst man/%,$(DESTDIR)$(PREFIX)/share/man/man1/%,$(wildcard man/*.1))

## clean: remove build products
clean:
	rm -rf build dcc lib/libdcc.a
