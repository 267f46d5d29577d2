# The whole pipeline on one machine, as file targets:
#   make -f pipelines/arepo.mk CONFIG=cfg.json WORK=dir SOURCE=dir-or-user@host:dir [-j N]
# list -> fetch -> extract -> interp -> merge -> normalize. `make -j` runs
# independent snapshots and views in parallel; an interrupted run resumes
# where it stopped; only what is missing is redone. See arepo-pipeline(7).

ifndef CONFIG
$(error CONFIG=file.json is required)
endif
ifndef WORK
$(error WORK=directory is required)
endif
ifndef SOURCE
$(error SOURCE=dir or SOURCE=user@host:dir is required)
endif

PIPELINE_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
# The tools: those built beside this file, else those on PATH.
BIN ?= $(if $(wildcard $(PIPELINE_DIR)../bin/arepo-extract),$(abspath $(PIPELINE_DIR)../bin)/,)
CACHE_SLOTS ?= 2
MPI_RANKS ?= 1
INTERP_BACKEND ?= auto
INTERP_OPTIONS ?=
EXTRACT_OPTIONS ?=
SSH_OPTIONS ?=

CONFIG_FILE := $(abspath $(CONFIG))
W := $(abspath $(WORK))

# SOURCE=user@host:dir is remote; anything else is a local directory.
REMOTE := $(if $(findstring :,$(SOURCE)),$(firstword $(subst :, ,$(SOURCE))))
SOURCE_DIR := $(if $(REMOTE),$(patsubst $(REMOTE):%,%,$(SOURCE)),$(SOURCE))
REMOTE_OPTIONS := $(if $(REMOTE),--remote $(REMOTE) $(SSH_OPTIONS))
MPIRUN := $(if $(filter-out 1,$(MPI_RANKS)),mpirun -n $(MPI_RANKS))
BACKEND := $(if $(filter cpu auto cuda,$(INTERP_BACKEND)),$(INTERP_BACKEND),$(error INTERP_BACKEND=$(INTERP_BACKEND): expected cpu, auto or cuda))
# With a GPU backend, parallel interp jobs (make -j) take one GPU each
# through lock files; GPU_LOCKS= turns that off.
GPU_LOCKS ?= $(W)/gpu-locks
INTERP_FLAGS := --backend $(BACKEND) $(if $(and $(filter auto cuda,$(BACKEND)),$(GPU_LOCKS)),--gpu-lock $(GPU_LOCKS))

.PHONY: all list clean-cache

all: $(W)/dataset/.normalized

list: $(W)/snapshots.txt

$(W)/snapshots.txt: $(CONFIG_FILE)
	@mkdir -p $(W)
	$(BIN)arepo-list $(REMOTE_OPTIONS) --config $(CONFIG_FILE) $(SOURCE_DIR) > $@.part
	mv $@.part $@

# One block of rules per snapshot, numbered by their line in snapshots.txt,
# so that names with spaces never become make targets.
$(W)/snapshots.mk: $(W)/snapshots.txt $(CONFIG_FILE)
	@views=$$($(BIN)arepo-config --config $(CONFIG_FILE) writer_hyper.points_per_snapshot) && \
	n=$$(wc -l < $<) && \
	{ i=1; tensors=; while [ $$i -le $$n ]; do \
		prev=$$((i - $(CACHE_SLOTS))); \
		slot=; [ $$prev -ge 1 ] && slot="| $(W)/stamps/extracted_$$prev"; \
		echo "$(W)/stamps/fetched_$$i: $$slot"; \
		printf '\t@mkdir -p $(W)/stamps $(W)/cache\n'; \
		printf '\tpath=$$$$(sed -n %sp $(W)/snapshots.txt) && $(BIN)arepo-fetch $(REMOTE_OPTIONS) --cache $(W)/cache -- "$$$$path" > $$@.part && mv $$@.part $$@\n' $$i; \
		echo "$(W)/stamps/extracted_$$i: $(W)/stamps/fetched_$$i"; \
		printf '\tlocal=$$$$(cat $$<) && $(MPIRUN) $(BIN)arepo-extract --config $(CONFIG_FILE) $(EXTRACT_OPTIONS) --out $(W)/views --print-dirs "$$$$local" > $$@.part && mv $$@.part $$@\n'; \
		$(if $(REMOTE),printf '\t$(BIN)arepo-fetch --cache $(W)/cache --evict "$$$$(cat $$<)"\n';) \
		k=0; while [ $$k -lt $$views ]; do \
			t="$(W)/tensors/$${i}_view$$k.h5"; tensors="$$tensors $$t"; \
			echo "$$t: $(W)/stamps/extracted_$$i"; \
			printf '\t@mkdir -p $(W)/tensors\n'; \
			printf '\t$(BIN)arepo-interp $(INTERP_FLAGS) $(INTERP_OPTIONS) "$$$$(cat $$<)/view_%s.h5" $$@\n' $$k; \
			k=$$((k + 1)); \
		done; \
		i=$$((i + 1)); \
	done; \
	echo "TENSORS :=$$tensors"; } > $@.part && mv $@.part $@

-include $(W)/snapshots.mk

$(W)/dataset/dataset.h5: $(TENSORS)
	$(BIN)arepo-merge --link --skip-existing -o $(W)/dataset $(TENSORS)
	@touch $@

$(W)/dataset/.normalized: $(W)/dataset/dataset.h5
	$(BIN)arepo-normalize $(W)/dataset
	@touch $@

# Snapshots copied from a remote archive, if a run was stopped before
# extracting them.
clean-cache:
	rm -rf $(W)/cache
