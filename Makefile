# Umbra - build, run and test.
#
#   make run              install what is missing, build, start umbrad (data in ./var)
#   make test             install what is missing, build, run unit, fuzz and end-to-end tests
#   make test SANITIZE=1  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz             run every libFuzzer target for FUZZ_SECONDS each
#   make bench            side-by-side benchmark against mosquitto (bench/run.sh)
#   make bench-shadow     device shadow updates per second and latency (bench/shadow.sh)
#   make bench-rules      what 10 topic rules cost on the publish path (bench/rules.sh)
#   make image            build the container image umbra:latest (Docker, else podman)
#   make test-image       build the image, run it and use it from this machine (tests/image/test.sh)
#   make install          umbrad, umbractl, man pages, example configuration, systemd unit
#                         (PREFIX=/usr/local, DESTDIR= to stage)

CC       ?= cc
PYTHON   ?= /usr/bin/python3
SANITIZE ?= 0
FUZZ_SECONDS ?= 20

# libcurl runs the rules engine's http action and umbractl's HTTPS calls;
# libpq the postgres action.
PKGS     := libuv jansson sqlite3 libcurl libpq
# Debian 12's mbedTLS 2.28 ships no pkg-config file.
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -I. -Ibroker -Itls -Iregistry -Ipolicy -Ishadow -Irules -Ihttp \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(MBEDTLS_LIBS) -lhttp_parser -lpthread -lm

ifeq ($(SANITIZE),1)
BUILD    := build/asan
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
else
BUILD    := build/release
endif
CFLAGS   ?=
CFLAGS   += $(CFLAGS_BASE)

# Every .c file in a module directory belongs to libumbra.a; programs live in cli/.
MODULE_DIRS := broker tls registry policy shadow rules http
LIB_SRCS := $(foreach d,$(MODULE_DIRS),$(wildcard $(d)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libumbra.a

PROGS    := $(BUILD)/umbrad $(BUILD)/umbractl $(if $(wildcard bench/loadgen.c),$(BUILD)/umbra-loadgen) \
            $(if $(wildcard bench/tlsgen.c),$(BUILD)/umbra-tlsgen) \
            $(if $(wildcard bench/shadowgen.c),$(BUILD)/umbra-shadowgen)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%)

# Debian packages the build and the tests need (make deps installs the missing ones).
DEB_BUILD := gcc make pkg-config libuv1-dev libjansson-dev libsqlite3-dev libmbedtls-dev \
             libhttp-parser-dev libcurl4-openssl-dev libpq-dev
DEB_TEST  := libcmocka-dev clang libclang-rt-14-dev mosquitto-clients python3 openssl curl \
             python3-paho-mqtt python3-pytest python3-cryptography postgresql \
             systemd groff-base man-db prometheus
DEB_BENCH := mosquitto

# Where `make install` puts things (DESTDIR stages them elsewhere).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/umbra
# /usr keeps its configuration in /etc; any other prefix has its own etc.
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

.PHONY: all deps deps-bench run test unit e2e fuzz fuzz-build bench bench-tls bench-shadow bench-rules \
        clean format install uninstall image test-image

all: $(LIB) $(PROGS)

deps:
	@sh .ci/install-deps.sh $(DEB_BUILD) $(DEB_TEST)

deps-bench:
	@sh .ci/install-deps.sh $(DEB_BUILD) $(DEB_BENCH)

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	exec $(BUILD)/umbrad --data-dir ./var --mqtt 127.0.0.1:1883

test: deps
	@$(MAKE) --no-print-directory all unit-bins
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory e2e

unit-bins: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@sh tests/run-unit.sh $(UNIT_BINS)

e2e: all
	UMBRAD=$(CURDIR)/$(BUILD)/umbrad UMBRACTL=$(CURDIR)/$(BUILD)/umbractl \
	  SANITIZE=$(SANITIZE) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# Fuzzers always build with clang, libFuzzer and ASan/UBSan, from the sources.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -Ibroker -Itls -Iregistry -Ipolicy -Ishadow -Irules -Ihttp \
               -fsanitize=fuzzer,address,undefined \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# Modules that need no loop or sockets: the pure ones, and the registry over SQLite.
FUZZ_LIB_SRCS := $(filter broker/mqtt_% broker/error.c broker/strmap.c broker/trie.c \
                  broker/retain.c broker/levelset.c broker/config.c broker/log.c broker/log_format.c broker/profile.c broker/buf.c \
                  broker/session.c broker/message.c broker/usage_rules.c broker/usage_price.c \
                  broker/usage_time.c tls/cert.c tls/pki.c registry/% policy/% shadow/% rules/% http/http_request.c \
                  http/http_response.c http/rest_route.c,$(LIB_SRCS))

build/fuzz/%: fuzz/%.c $(FUZZ_LIB_SRCS) $(wildcard broker/*.h registry/*.h tls/*.h policy/*.h shadow/*.h rules/*.h http/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@sh fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh $(BUILD)

bench-tls: deps-bench
	@$(MAKE) --no-print-directory all
	@sh bench/tls.sh $(BUILD)

bench-shadow: deps
	@$(MAKE) --no-print-directory all
	@sh bench/shadow.sh $(BUILD)

bench-rules: deps-bench
	@$(MAKE) --no-print-directory all
	@sh bench/rules.sh $(BUILD)

# The image builds from the sources in its own build stage, not from $(BUILD).
image:
	@bash .ci/build-image.sh umbra:latest

test-image:
	@bash tests/image/test.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/umbrad: $(BUILD)/obj/cli/umbrad.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# umbractl's iot-data commands are HTTPS calls to umbrad.
$(BUILD)/umbractl: $(BUILD)/obj/cli/umbractl.o $(BUILD)/obj/cli/text_output.o \
                   $(BUILD)/obj/cli/iot_data.o $(BUILD)/obj/cli/health.o $(BUILD)/obj/cli/backup.o \
                   $(BUILD)/obj/cli/usage.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/umbra-loadgen: $(BUILD)/obj/bench/loadgen.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/umbra-shadowgen: $(BUILD)/obj/bench/shadowgen.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/umbra-tlsgen: $(BUILD)/obj/bench/tlsgen.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $< $(LIB) \
	  $(shell pkg-config --libs cmocka) $(LDLIBS)

# The example configuration is what umbrad prints: every key with its default,
# so it cannot drift from the table in broker/config.c. The service's own file
# is the same with the service's data directory; an existing one is the
# operator's and is never overwritten.
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/umbra \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/umbrad $(DESTDIR)$(SBINDIR)/umbrad
	install -m 0755 $(BUILD)/umbractl $(DESTDIR)$(BINDIR)/umbractl
	install -m 0644 docs/man/umbrad.8 $(DESTDIR)$(MANDIR)/man8/umbrad.8
	install -m 0644 docs/man/umbractl.1 $(DESTDIR)$(MANDIR)/man1/umbractl.1
	install -m 0644 docs/operations.md $(DESTDIR)$(DOCDIR)/operations.md
	$(BUILD)/umbrad --print-config > $(DESTDIR)$(DOCDIR)/umbra.json.example
	test -e $(DESTDIR)$(SYSCONFDIR)/umbra/umbra.json || \
	  $(BUILD)/umbrad --print-config --data-dir /var/lib/umbra \
	    > $(DESTDIR)$(SYSCONFDIR)/umbra/umbra.json
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' dist/umbrad.service.in \
	  > $(DESTDIR)$(UNITDIR)/umbrad.service
	install -m 0644 dist/umbra.sysusers $(DESTDIR)$(SYSUSERSDIR)/umbra.conf
	chmod 0644 $(DESTDIR)$(DOCDIR)/umbra.json.example $(DESTDIR)$(SYSCONFDIR)/umbra/umbra.json \
	  $(DESTDIR)$(UNITDIR)/umbrad.service

# Leaves the configuration in SYSCONFDIR and the data in /var/lib/umbra.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/umbrad $(DESTDIR)$(BINDIR)/umbractl \
	  $(DESTDIR)$(MANDIR)/man8/umbrad.8 $(DESTDIR)$(MANDIR)/man1/umbractl.1 \
	  $(DESTDIR)$(DOCDIR)/operations.md $(DESTDIR)$(DOCDIR)/umbra.json.example \
	  $(DESTDIR)$(UNITDIR)/umbrad.service $(DESTDIR)$(SYSUSERSDIR)/umbra.conf
	-rmdir $(DESTDIR)$(DOCDIR)

format:
	clang-format -i $(wildcard */*.c */*.h tests/unit/*.c)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
