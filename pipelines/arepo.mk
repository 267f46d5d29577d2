# The whole pipeline on one machine, as file targets:
#   make -f pipelines/arepo.mk CONFIG=cfg.json WORK=dir SOURCE=dir-or-user@host:dir [-j N]
# The stages, their files and commands are described once, in lib/stages.sh.
# Here, in the calling directory, lib/stage checks the settings and records
# them in WORK/pipeline.env; then a second make, in WORK, runs the rules
# lib/stage generates (WORK/rules.mk), whose targets are paths relative to
# WORK, so that WORK, SOURCE and CONFIG may hold spaces and colons. An
# interrupted run resumes where it stopped. See arepo-pipeline(7).

PIPELINE_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
STAGE := sh $(PIPELINE_DIR)/lib/stage
GOALS := all list fetch extract interp grids observe merge normalize

.PHONY: $(GOALS) clean-cache
.DEFAULT_GOAL := all

ifndef AREPO_PIPELINE_IN_WORK
# The settings reach lib/stage through the environment, whatever they hold;
# those not given stay unset (GPU_LOCKS= is not GPU_LOCKS unset).
SETTINGS := CONFIG WORK SOURCE OBSERVE KEEP_PHYSICAL CACHE_SLOTS MPI_RANKS INTERP_BACKEND OBSERVE_BACKEND \
	GPU_LOCKS THREADS SSH_OPTIONS EXTRACT_OPTIONS INTERP_OPTIONS OBSERVE_OPTIONS BIN FORCE
$(foreach v,$(SETTINGS),$(if $(filter undefined,$(origin $(v))),,$(eval export $(v))))
# make -n: check the settings, change nothing.
export DRY := $(if $(findstring n,$(firstword -$(MAKEFLAGS))),1)
.NOTPARALLEL:

# The list (a failure stops the run here, with arepo-list's message), then
# make in WORK.
$(GOALS):
	@work=$$($(STAGE) setup make) && STAGE_ECHO=1 $(STAGE) prepare "$$work" && \
	if [ $@ != list ] && [ -f "$$work/rules.mk" ]; then \
		$(MAKE) --no-print-directory -C "$$work" -f $(PIPELINE_DIR)/arepo.mk AREPO_PIPELINE_IN_WORK=1 $@; fi

# Snapshots copied from a remote archive, if a run was stopped before
# extracting them.
clean-cache:
	@$(STAGE) clean-cache

else
# In WORK. Every target is secondary: a tensor removed once observed, or a
# fetched stamp removed with its snapshot from the cache, is not remade
# while what was made from it is up to date.
.SECONDARY:
# The recipes print the tools' command lines, not their own.
export STAGE_ECHO := 1

all: normalize

# Made by lib/stage before this make starts.
include rules.mk
endif
