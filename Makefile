# howlong: one GNU make build for every tool.
# A tool is progs/<tool>.bpf.c + progs/<tool>.h + tools/<tool>.c (which
# describes it as a struct hl_tracer, tools/lib/tracer.h); add its
# name to TOOLS, a man page and a test (docs/new-tool.md). A tool without a BPF program (it reads
# files only) is tools/<tool>.c alone, named in PLAIN_TOOLS instead; of
# those, howlong judges every tool of the collection from its BPF object.
TOOLS := schedlat pgquerylat jitlat jvmpauselat usdtlat funclat syslat biolat irqlat connlat rttlat locklat reclaimlat
PLAIN_TOOLS := usdtlist howlong

# The one version: tools' -V, man pages, the Debian package (a test
# holds debian/changelog to it).
VERSION := $(shell cat VERSION)
HOST_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
ARCH ?= $(HOST_ARCH)
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
PYTHON ?= /usr/bin/python3

# Cross-building (make ARCH=arm64 on x86-64): Debian's cross compiler and
# the target's libraries through multiarch (make deps-arm64), into
# build/ARCH, bin/ARCH and skel/ARCH.
TRIPLE_arm64 := aarch64-linux-gnu
TRIPLE_x86 := x86_64-linux-gnu
ifneq ($(ARCH),$(HOST_ARCH))
TRIPLE := $(TRIPLE_$(ARCH))
CC = $(TRIPLE)-gcc
AR = $(TRIPLE)-ar
PKG_CONFIG = PKG_CONFIG_LIBDIR=/usr/lib/$(TRIPLE)/pkgconfig:/usr/share/pkgconfig \
	pkg-config
ARCH_DIR := /$(ARCH)
endif
OUT := build$(ARCH_DIR)
BIN := bin$(ARCH_DIR)
SKEL := skel$(ARCH_DIR)
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
# Variables that ask a tool (cc, pkg-config, bpftool) are recursively
# expanded (=): evaluated when a recipe uses them, so that in `make deps all`
# they see what `deps` has just installed, not the bare machine make parsed.
MULTIARCH = $(shell $(CC) -dumpmachine 2>/dev/null)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIBBPF_MIN := 1.1
WARN := -Wall -Wextra -Werror
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 $(WARN) -I$(SKEL) -Iprogs -Itools/lib \
	-DHOWLONG_VERSION='"$(VERSION)"' -MMD -MP
BPF_CFLAGS = -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	-I$(dir $(VMLINUX)) -Iprogs -I/usr/include/$(MULTIARCH) -MMD -MP

ifeq ($(STATIC),1)
# libbpf.a calls btf__load_vmlinux_btf across objects: --wrap routes it to
# tools/lib/lean_btf.c (dynamic builds interpose the symbol instead).
LDFLAGS += -static -Wl,--wrap=btf__load_vmlinux_btf
override CFLAGS += -DHL_STATIC
LDLIBS = $(shell $(PKG_CONFIG) --static --libs libbpf libelf zlib 2>/dev/null) -lm
PLAIN_LDLIBS = $(shell $(PKG_CONFIG) --static --libs libelf zlib 2>/dev/null)
else
LDLIBS = $(shell $(PKG_CONFIG) --libs libbpf 2>/dev/null) -lelf -lz -lm
PLAIN_LDLIBS = -lelf
endif

LIB_SRCS := $(wildcard tools/lib/*.c)
LIB_OBJS := $(patsubst tools/lib/%.c,$(OUT)/lib/%.o,$(LIB_SRCS))
BINS := $(addprefix $(BIN)/,$(TOOLS) $(PLAIN_TOOLS))
SKELS := $(patsubst %,$(SKEL)/%.skel.h,$(TOOLS))

.PHONY: all clean check check-fresh check-kernels check-arm64 deps deps-arm64 vmlinux install uninstall bench libbpf-check
.DELETE_ON_ERROR:
# Keep generated skeletons and objects between builds (they are pattern-rule
# intermediates); a bare .SECONDARY would also stop the link stamp below
# from forcing a relink.
.SECONDARY: $(SKELS) $(patsubst %,$(OUT)/%.bpf.o,$(TOOLS)) \
	$(patsubst %,$(OUT)/%.o,$(TOOLS)) $(LIB_OBJS)

MANS := $(patsubst %,$(OUT)/man/%.8,$(TOOLS) $(PLAIN_TOOLS))
COMPLETION := $(OUT)/completion/howlong.bash

all: libbpf-check $(BINS) $(MANS) $(COMPLETION)

libbpf-check:
	@$(PKG_CONFIG) --atleast-version=$(LIBBPF_MIN) libbpf 2>/dev/null || { \
		echo "error: libbpf >= $(LIBBPF_MIN) not found by pkg-config" \
		"(install libbpf-dev, or run: sudo make deps)" >&2; exit 1; }

$(OUT) $(OUT)/lib $(OUT)/man $(BIN) $(SKEL):
	$(Q)mkdir -p $@

# Man pages carry the version from VERSION.
$(OUT)/man/%.8: man/%.8 VERSION | $(OUT)/man
	$(call msg,MAN,$@)
	$(Q)sed 's/@VERSION@/$(VERSION)/g' $< > $@

# The bash completion knows every tool's name; its options it reads from
# the tool's --help when completing.
$(COMPLETION): completion/howlong.bash.in Makefile
	$(Q)mkdir -p $(dir $@)
	$(call msg,GEN,$@)
	$(Q)sed 's/@TOOLS@/$(TOOLS) $(PLAIN_TOOLS)/g' $< > $@

# -V prints VERSION.
$(OUT)/lib/cli.o: VERSION

# BPF objects: DWARF is stripped (BTF is kept: CO-RE and the skeleton need it).
$(OUT)/%.bpf.o: progs/%.bpf.c $(VMLINUX) | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(SKEL)/%.skel.h: $(OUT)/%.bpf.o | $(SKEL)
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

# Switching between static and dynamic builds must relink (and recompile
# the library, which differs by HL_STATIC): a stamp names the mode.
LINK_STAMP := $(OUT)/.link-$(if $(filter 1,$(STATIC)),static,dynamic)
$(LINK_STAMP): | $(OUT)
	$(Q)rm -f $(OUT)/.link-* && touch $@

$(OUT)/lib/%.o: tools/lib/%.c $(LINK_STAMP) | $(OUT)/lib
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# System call names from the kernel headers of the compiler's target: the
# kernel has no table of them to read at run time.
$(OUT)/gen/syscall_names.h: tools/lib/syscall_names.awk | $(OUT)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)echo '#include <asm/unistd.h>' | $(CC) -E -dM - | \
		awk -f tools/lib/syscall_names.awk | sort -t'[' -k2 -n > $@.tmp \
		&& test -s $@.tmp && mv $@.tmp $@
$(OUT)/lib/syscalls.o: $(OUT)/gen/syscall_names.h
$(OUT)/lib/syscalls.o: CPPFLAGS += -I$(OUT)/gen

$(OUT)/%.o: tools/%.c $(SKEL)/%.skel.h | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Plain tools: no skeleton to wait for, and linked without libbpf.
$(patsubst %,$(OUT)/%.o,$(PLAIN_TOOLS)): $(OUT)/%.o: tools/%.c | $(OUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(addprefix $(BIN)/,$(filter-out howlong,$(PLAIN_TOOLS))): LDLIBS = $(PLAIN_LDLIBS)

# howlong's catalog: every tool's name, its man page's NAME line (the
# question it answers) and, for a tool with BPF, its skeleton's object.
$(OUT)/gen/catalog.c: $(SKELS) $(patsubst %,man/%.8,$(TOOLS) $(PLAIN_TOOLS)) Makefile | $(OUT)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q){ echo "#include <linux/types.h>"; echo "#include \"lib/common.h\""; \
	  for t in $(TOOLS); do echo "#include \"$$t.h\""; \
	    echo "#include \"$$t.skel.h\""; done; \
	  echo '#include "catalog.h"'; \
	  echo 'const struct hl_catalog_entry hl_catalog[] = {'; \
	  for t in $(filter-out howlong,$(TOOLS) $(PLAIN_TOOLS)); do \
	    q=$$(sed -n '/^\.SH NAME/{n;s/^[^ ]* \\- //p;q;}' man/$$t.8 | \
	      sed 's/["\\]/\\&/g'); \
	    test -n "$$q" || { echo "man/$$t.8: no NAME line" >&2; exit 1; }; \
	    case " $(TOOLS) " in *" $$t "*) o=$${t}_bpf__elf_bytes;; *) o=NULL;; esac; \
	    printf '\t{ "%s", "%s", %s },\n' "$$t" "$$q" "$$o"; \
	  done; echo '\t{}'; echo '};'; } > $@.tmp && mv $@.tmp $@
$(OUT)/gen/catalog.o: $(OUT)/gen/catalog.c $(LINK_STAMP)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(BIN)/howlong: $(OUT)/gen/catalog.o

# An archive, so that each tool links only the library objects it uses.
LIB_ARCHIVE := $(OUT)/libhowlong.a
$(LIB_ARCHIVE): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BIN)/%: $(OUT)/%.o $(LIB_ARCHIVE) $(LINK_STAMP) | $(BIN)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o %.a,$^) $(LDLIBS) -o $@

# Regenerate the committed vmlinux.h from the running kernel's BTF, or
# for another architecture from the BTF in the boot image of Debian's 6.1
# kernel of it (vmlinux/btf_from_image.py fetches and cuts it out).
vmlinux:
	$(Q)mkdir -p $(dir $(VMLINUX))
ifeq ($(ARCH),$(HOST_ARCH))
	$(Q){ echo "/* Generated by 'make vmlinux' from /sys/kernel/btf/vmlinux of"; \
	  echo " * Linux $$(uname -r) $$(uname -m) with $$($(BPFTOOL) version | head -1). */"; \
	  $(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c; } > $(VMLINUX).tmp
else
	$(Q)v=$$($(PYTHON) vmlinux/btf_from_image.py 6.1-$(ARCH) $(VMLINUX).btf) && \
	{ echo "/* Generated by 'make vmlinux ARCH=$(ARCH)' from the BTF in the boot"; \
	  echo " * image of Debian's Linux $$v with $$($(BPFTOOL) version | head -1). */"; \
	  $(BPFTOOL) btf dump file $(VMLINUX).btf format c; } > $(VMLINUX).tmp; \
	rc=$$?; rm -f $(VMLINUX).btf; exit $$rc
endif
	$(Q)mv $(VMLINUX).tmp $(VMLINUX)

# Build and test dependencies, Debian 12 package names. Idempotent.
DEB_PKGS := make gcc libc6-dev clang llvm bpftool libbpf-dev libelf-dev \
	zlib1g-dev pkg-config python3 libbpf-tools linux-perf \
	postgresql postgresql-contrib openjdk-17-jdk-headless \
	systemtap-sdt-dev libclang-rt-14-dev \
	debhelper dpkg-dev fakeroot build-essential lintian man-db \
	bash-completion mount prometheus prometheus-node-exporter systemd \
	iproute2
# `make deps all`, `make -j deps check`: nothing is built before deps is done.
ifneq ($(filter deps,$(MAKECMDGOALS)),)
.NOTPARALLEL:
endif
# What the checks of other machines need besides: a new Debian root
# (check-fresh), other kernels under qemu (check-kernels).
FRESH_DEB_PKGS := mmdebstrap
KERNEL_DEB_PKGS := qemu-system-x86 busybox-static kmod cpio xz-utils
# $(call apt_install,PACKAGES): install those not installed yet.
apt_install = missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $$missing; \
	fi
deps:
	$(Q)$(call apt_install,$(DEB_PKGS))

# Cross-building for arm64 (make ARCH=arm64 [STATIC=1]) and booting it
# (check-arm64): the cross compiler, arm64's libraries through multiarch,
# and qemu for aarch64. busybox-static:arm64 would replace the host's
# (one path): check-arm64 fetches that package and unpacks it instead.
ARM64_DEB_PKGS := gcc-aarch64-linux-gnu libbpf-dev:arm64 libelf-dev:arm64 \
	zlib1g-dev:arm64 libzstd-dev:arm64 systemtap-sdt-dev:arm64 qemu-system-arm \
	mmdebstrap
deps-arm64:
	$(Q)dpkg --print-foreign-architectures | grep -qx arm64 || \
		{ dpkg --add-architecture arm64 && apt-get update -qq; }
	$(Q)$(call apt_install,$(ARM64_DEB_PKGS))

TEST_BINS := $(patsubst selftests/unit/%.c,$(OUT)/test/%,$(wildcard selftests/unit/*.c))
$(OUT)/test:
	$(Q)mkdir -p $@
$(OUT)/test/%: selftests/unit/%.c $(LIB_OBJS) | $(OUT)/test
	$(call msg,CC,$@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -o $@
# (a test that runs a tool's BPF programs includes its skeleton)
$(OUT)/test/test_biolat_table: $(SKEL)/biolat.skel.h

# Test programs with USDT markers of their own (sys/sdt.h, from
# systemtap-sdt-dev), optimised as real programs are: the markers' argument
# specs then name registers and memory, not only stack slots. The wildcard
# names their header as well, so no -MMD.
# Each is built twice: position-independent (Debian's default) and as a
# fixed-address executable (ET_EXEC, like Debian's python3), whose marker
# sites and semaphores are absolute addresses.
TEST_PROGS := $(foreach p,markers pairs,$(OUT)/test-progs/$(p) \
	      $(OUT)/test-progs/$(p)-nopie)
$(OUT)/test-progs $(OUT)/fuzz:
	$(Q)mkdir -p $@
# Cross-built, they are static: a guest of another architecture has no
# libc of its own (check-arm64).
TEST_PROG_FLAGS := -O2 -g -std=gnu11 $(WARN) $(if $(ARCH_DIR),-static)
# $(1): -nopie or nothing
define test_prog_rules
$(OUT)/test-progs/markers$(1): $(wildcard selftests/c/markers*) | $(OUT)/test-progs
	$$(call msg,CC,$$@)
	$$(Q)$$(CC) $$(TEST_PROG_FLAGS) $(if $(1),-fno-pie -no-pie) \
		$$(filter %.c,$$^) -o $$@
$(OUT)/test-progs/pairs$(1): selftests/c/pairs.c | $(OUT)/test-progs
	$$(call msg,CC,$$@)
	$$(Q)$$(CC) $$(TEST_PROG_FLAGS) $(if $(1),-fno-pie -no-pie) \
		-pthread $$< -o $$@
endef
$(eval $(call test_prog_rules,))
$(eval $(call test_prog_rules,-nopie))

# The libFuzzer targets, with the library code each fuzzes built into it
# under the same sanitizers (libFuzzer ships in libclang-rt-14-dev).
FUZZ_BINS := $(OUT)/fuzz/usdt_notes $(OUT)/fuzz/http_request
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -std=gnu11 $(WARN) -Itools/lib
$(OUT)/fuzz/usdt_notes: selftests/fuzz/usdt_notes.c tools/lib/usdt.c \
		tools/lib/util.c tools/lib/usdt.h tools/lib/util.h | $(OUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) -lelf -o $@
$(OUT)/fuzz/http_request: selftests/fuzz/http_request.c tools/lib/httpd.c \
		tools/lib/httpd.h | $(OUT)/fuzz
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(filter %.c,$^) -o $@

check: all $(TEST_BINS) $(TEST_PROGS) $(FUZZ_BINS)
	$(Q)$(PYTHON) selftests/run.py

# The README's quick start, as written, in a new minimal Debian 12 root
# (mmdebstrap, chroot; selftests/freshroot/run). Not part of check.
check-fresh:
	$(Q)$(call apt_install,$(FRESH_DEB_PKGS))
	$(Q)$(PYTHON) selftests/freshroot/run

# The tools on other kernels: Debian's 5.10, 6.1 (generic, cloud) and 6.12
# booted under qemu, the tests that hold under emulation run inside
# (selftests/kernels); writes docs/portability.md (build/portability.md
# for some kernels only). KERNELS= picks some,
# FULL=1 runs the whole suite in each.
KERNELS ?= 5.10 6.1 6.1-cloud 6.12
check-kernels: all $(TEST_BINS) $(TEST_PROGS) $(FUZZ_BINS)
	$(Q)$(call apt_install,$(KERNEL_DEB_PKGS))
	$(Q)$(PYTHON) selftests/kernels/matrix.py $(if $(filter 1,$(FULL)),--full) \
		$(KERNELS)

# The static arm64 tools on Debian's arm64 kernel under qemu-system-aarch64
# (emulation), against ground truth (selftests/arm64/check.py). Cross-
# builds them first; the host's build is untouched.
ARM64_TEST_PROGS := $(foreach p,pairs markers,build/arm64/test-progs/$(p) \
		    build/arm64/test-progs/$(p)-nopie)
check-arm64: deps-arm64
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 STATIC=1 all $(ARM64_TEST_PROGS)
	$(Q)$(PYTHON) selftests/arm64/check.py

bench: all
	$(Q)$(PYTHON) bench/schedlat.py
	$(Q)$(PYTHON) bench/pgquerylat.py
	$(Q)$(PYTHON) bench/jvmpauselat.py
	$(Q)$(PYTHON) bench/sizes.py
	$(Q)$(PYTHON) bench/probecost.py
	$(Q)$(PYTHON) bench/bystander.py
	$(Q)$(PYTHON) bench/syslat.py
	$(Q)$(PYTHON) bench/biolat.py
	$(Q)$(PYTHON) bench/irqlat.py
	$(Q)$(PYTHON) bench/connlat.py
	$(Q)$(PYTHON) bench/locklat.py

# Every tool, its man page and its bash completion (one script serves
# every tool: bash-completion loads it by the command's name).
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(BINS) $(DESTDIR)$(SBINDIR)/
	install -m 0644 $(MANS) $(DESTDIR)$(MANDIR)/man8/
	for t in $(TOOLS) $(PLAIN_TOOLS); do \
		install -m 0644 $(COMPLETION) \
			$(DESTDIR)$(COMPLETIONDIR)/$$t || exit 1; \
	done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(TOOLS) $(PLAIN_TOOLS)) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(addsuffix .8,$(TOOLS) \
		$(PLAIN_TOOLS))) \
		$(addprefix $(DESTDIR)$(COMPLETIONDIR)/,$(TOOLS) $(PLAIN_TOOLS))

clean:
	$(Q)rm -rf $(OUT) $(BIN) $(SKEL)

-include $(wildcard $(OUT)/*.d $(OUT)/lib/*.d $(OUT)/test/*.d)
