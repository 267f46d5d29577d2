# Top-level build of the AREPO tensor tool chain: lib/ as a static library,
# one executable per tools/<name>/ directory in bin/, tests, install.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
# Where make install puts the programs, the data (presets, molecular data,
# the pipeline's files) and the man pages, GNU style; the installed tools
# and scripts look for their files there.
bindir     ?= $(PREFIX)/bin
datadir    ?= $(PREFIX)/share
mandir     ?= $(datadir)/man
CC         ?= cc
CFLAGS     ?= -O3 -g
WARNINGS   := -Wall -Wextra -Werror
STD        := -std=c11 -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -ffp-contract=off

HDF5_CFLAGS := $(shell pkg-config --cflags hdf5 2>/dev/null || echo -I/usr/include/hdf5/serial)
HDF5_LIBS   := -lhdf5_hl $(shell pkg-config --libs hdf5 2>/dev/null || echo -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5)
JSON_LIBS   := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
# Blosc: the compression of tensor chunks (lib/h5filter.c).
BLOSC_LIBS  := $(shell pkg-config --libs blosc 2>/dev/null || echo -lblosc)

# CUDA is built when nvcc is found, unless CUDA=0 is given; CUDA=1 insists.
NVCC  ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA  ?= $(if $(NVCC),1,0)
ifeq ($(CUDA),1)
ifeq ($(NVCC),)
$(error CUDA=1 was asked for, but nvcc was not found; set NVCC=/path/to/nvcc or use CUDA=0)
endif
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(realpath $(NVCC)))
# Ampere and Hopper machine code, and PTX for later GPUs. No fused
# multiply-adds and IEEE division and square roots: the kernels must round
# exactly as the CPU code they share (lib/interp_point.h, lib/observe_point.h).
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3 -g
ALL_NVCCFLAGS := -std=c++17 $(CUDA_ARCH) -fmad=false -prec-div=true -prec-sqrt=true -ftz=false \
                 -Xcompiler -Wall,-Wextra,-Werror $(NVCCFLAGS) -Ilib \
                 -DAREPO_VERSION='"$(VERSION)"' -DAREPO_WITH_CUDA=1
# The runtime linked statically: the tools need only the driver at run time.
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
CU_SRCS   := $(wildcard lib/*.cu)
endif

# arepo-extract is an MPI program (Open MPI's wrapper knows the flags).
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c 2>/dev/null)

ALL_CFLAGS := $(STD) $(WARNINGS) $(CFLAGS) -Ilib $(HDF5_CFLAGS) \
              -DAREPO_VERSION='"$(VERSION)"' -DAREPO_WITH_CUDA=$(CUDA)
PNG_LIBS    := $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng)
# The observation's numerics: SLEEF (torch's CPU transcendentals) and the
# reference LAPACK/BLAS (torch's level solves), the netlib builds pinned by
# run path so that another BLAS chosen by update-alternatives is not used.
LIBDIR_ARCH := /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
OBS_LIBS    := -lsleef -L$(LIBDIR_ARCH)/lapack -L$(LIBDIR_ARCH)/blas -llapack \
               -Wl,--no-as-needed -lblas -Wl,--as-needed \
               -Wl,-rpath,$(LIBDIR_ARCH)/lapack:$(LIBDIR_ARCH)/blas
LDLIBS     := $(HDF5_LIBS) $(BLOSC_LIBS) $(JSON_LIBS) $(PNG_LIBS) $(OBS_LIBS) $(CUDA_LIBS) -lm -lpthread

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=build/%.o) $(CU_SRCS:%.cu=build/%.o)
LIB      := build/libarepo.a

TOOLS    := $(notdir $(wildcard tools/*))
TOOL_BINS := $(foreach t,$(TOOLS),$(if $(wildcard tools/$(t)/*.c),bin/arepo-$(t)))

UNIT_SRCS  := $(wildcard tests/unit/*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=build/tests/%.t)
# Programs the shell tests call (never installed).
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPERS     := $(HELPER_SRCS:tests/helpers/%.c=build/tests/helpers/%)

MAN_PAGES := $(wildcard man/man1/*.1 man/man5/*.5 man/man7/*.7)
# Tools written in sh: the Slurm chain.
SCRIPT_TOOLS := arepo-submit arepo-status
SCRIPT_BINS  := $(SCRIPT_TOOLS:%=bin/%)

.PHONY: all test test-unit test-gpu demo deps install uninstall clean config FORCE
# Keep object files between runs (they are intermediate to make).
.SECONDARY:
.SECONDEXPANSION:

all: $(TOOL_BINS) $(SCRIPT_BINS)

bin/arepo-%: pipelines/arepo-% | bin/.
	install -m 755 $< $@

config:
	@echo "version: $(VERSION)"
	@echo "CC:      $(CC)"
	@echo "CUDA:    $(CUDA)$(if $(NVCC), ($(NVCC)))"
	@echo "tools:   $(TOOLS)"

# Rebuilt objects when CUDA is switched (the stamp changes only then).
build/cuda-switch: FORCE | build/.
	@echo $(CUDA) | cmp -s - $@ || echo $(CUDA) > $@
FORCE:

build/%.o: %.c $(wildcard lib/*.h) build/cuda-switch | $$(@D)/.
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/%.o: %.cu $(wildcard lib/*.h) build/cuda-switch | $$(@D)/.
	$(NVCC) $(ALL_NVCCFLAGS) -c -o $@ $<

.PRECIOUS: %/.
%/.:
	@mkdir -p $@

$(LIB): $(LIB_OBJS) build/cuda-switch
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

tool_objs = $(patsubst %.c,build/%.o,$(wildcard tools/$(1)/*.c))

bin/arepo-%: $$(call tool_objs,$$*) $(LIB) | bin/.
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) $(TOOL_LIBS)

build/tools/extract/%.o: ALL_CFLAGS += $(MPI_CFLAGS)
# The observation's numerics use AVX2 vectors and explicit fused multiply-adds
# (the beam's, as oneDNN's); -ffp-contract=off keeps every other a*b+c apart.
# The tools check the CPU before running them (vmath_check_cpu).
OBS_OBJS := build/lib/vmath.o $(patsubst %.c,build/%.o,$(wildcard lib/observe*.c lib/obsgrid*.c)) \
            build/tests/unit/test-vmath.o
$(OBS_OBJS): ALL_CFLAGS += -mavx2 -mfma
# SLEEF's AVX-512F builds, called only where the CPU has AVX-512F.
build/lib/vmath_avx512.o: ALL_CFLAGS += -mavx512f -mfma
# Where the installed molecular data files are looked for (rebuilt when
# datadir changes).
build/lib/obsgrid_cache.o: ALL_CFLAGS += -DAREPO_DATADIR='"$(datadir)/arepo"'
build/lib/obsgrid_cache.o: build/datadir
build/datadir: FORCE | build/.
	@echo '$(datadir)' | cmp -s - $@ || echo '$(datadir)' > $@
bin/arepo-extract: TOOL_LIBS = $(MPI_LIBS)

build/tests/%.t: build/tests/unit/%.o $(LIB) | build/tests/.
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

build/tests/helpers/%: build/tests/helpers/%.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The whole suite: C unit tests and shell integration tests, as TAP under prove.
test: all $(UNIT_TESTS) $(HELPERS)
	prove --exec '' $(UNIT_TESTS) $(sort $(wildcard tests/*.t))

# The CUDA backends against the CPU's; reported as skipped where no GPU is usable.
test-gpu: all $(HELPERS)
	prove --exec '' $(sort $(wildcard tests/gpu/*.t))

test-unit: $(UNIT_TESTS)
	prove --exec '' $(UNIT_TESTS)

demo: all
	@sh scripts/demo

deps:
	@sh scripts/install-deps

# What the man pages tell users to run, installed; the scripts told where
# their shared files are, and those files where the tools are.
PIPELINE_DATA := $(datadir)/arepo/pipeline
PIPELINE_LIBS := $(wildcard pipelines/lib/*.sh pipelines/lib/*.awk) pipelines/lib/stage
sed_path = $(subst &,\&,$(subst |,\|,$(1)))
install: all
	install -d '$(DESTDIR)$(bindir)' '$(DESTDIR)$(datadir)/arepo/presets' '$(DESTDIR)$(datadir)/arepo/chem' \
	  '$(DESTDIR)$(PIPELINE_DATA)/lib'
	install -m 755 $(TOOL_BINS) '$(DESTDIR)$(bindir)'
	for t in $(SCRIPT_TOOLS); do \
	  sed "s|^PIPELINE_LIB_INSTALLED=$$|PIPELINE_LIB_INSTALLED='$(call sed_path,$(PIPELINE_DATA))/lib'|" pipelines/$$t \
	    > '$(DESTDIR)$(bindir)'/$$t.part && chmod 755 '$(DESTDIR)$(bindir)'/$$t.part && \
	  mv '$(DESTDIR)$(bindir)'/$$t.part '$(DESTDIR)$(bindir)'/$$t || exit 1; done
	for page in $(MAN_PAGES); do \
	  sec=$${page##*.}; install -d '$(DESTDIR)$(mandir)'/man$$sec && \
	  install -m 644 $$page '$(DESTDIR)$(mandir)'/man$$sec || exit 1; done
	install -m 644 pipelines/presets/*.json '$(DESTDIR)$(datadir)/arepo/presets'
	install -m 644 pipelines/chem/*.dat '$(DESTDIR)$(datadir)/arepo/chem'
	install -m 644 pipelines/arepo.mk '$(DESTDIR)$(PIPELINE_DATA)'
	install -m 644 $(filter-out %/stage %/stages.sh,$(PIPELINE_LIBS)) '$(DESTDIR)$(PIPELINE_DATA)/lib'
	install -m 755 pipelines/lib/stage '$(DESTDIR)$(PIPELINE_DATA)/lib'
	sed "s|^AREPO_BINDIR_INSTALLED=$$|AREPO_BINDIR_INSTALLED='$(call sed_path,$(bindir))'|" pipelines/lib/stages.sh \
	  > '$(DESTDIR)$(PIPELINE_DATA)/lib/stages.sh'

# What install installed, and the directories it made when they are empty.
uninstall:
	rm -f $(foreach f,$(notdir $(TOOL_BINS)) $(SCRIPT_TOOLS),'$(DESTDIR)$(bindir)/$(f)')
	rm -f $(foreach p,$(MAN_PAGES),'$(DESTDIR)$(mandir)/man$(subst .,,$(suffix $(p)))/$(notdir $(p))')
	rm -f $(foreach f,$(wildcard pipelines/presets/*.json),'$(DESTDIR)$(datadir)/arepo/presets/$(notdir $(f))')
	rm -f $(foreach f,$(wildcard pipelines/chem/*.dat),'$(DESTDIR)$(datadir)/arepo/chem/$(notdir $(f))')
	rm -f '$(DESTDIR)$(PIPELINE_DATA)/arepo.mk' $(foreach f,$(PIPELINE_LIBS),'$(DESTDIR)$(PIPELINE_DATA)/lib/$(notdir $(f))')
	-rmdir '$(DESTDIR)$(PIPELINE_DATA)/lib' '$(DESTDIR)$(PIPELINE_DATA)' '$(DESTDIR)$(datadir)/arepo/presets' \
	  '$(DESTDIR)$(datadir)/arepo/chem' '$(DESTDIR)$(datadir)/arepo' 2>/dev/null

clean:
	rm -rf build bin
