# pg_pat: PGXS build. `make && make install`, then `make installcheck` (it starts its own
# throwaway servers); scripts/test does all of it on every PostgreSQL major it is given.

EXTENSION = pg_pat
PGFILEDESC = "pg_pat - personal access tokens inside PostgreSQL"
MODULE_big = pg_pat
# The current version's install script is built from schema/ (see the rule below); every other
# script in extension/ is committed as written.
EXTVERSION = $(shell sed -nE "s/^default_version = '(.*)'/\1/p" pg_pat.control)
DATA_built = extension/pg_pat--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(sort $(wildcard extension/pg_pat--*.sql)))

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
# The glue is laid out by wing (src/pg/bridge, tokens, usage, audit, lifecycle, workers), with
# settings.cpp and module.cpp above them.
GLUE_SRCS = $(sort $(wildcard src/pg/*.cpp src/pg/*/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

REGRESS = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=pg_pat
ISOLATION = $(basename $(notdir $(sort $(wildcard test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test --load-extension=pg_pat
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

# `make installcheck` needs no server of its own: regress and isolation each start a throwaway one
# (pg_regress --temp-instance) with pg_pat preloaded and test/pg_pat.conf's settings, and the TAP
# tests start their own nodes. `make installcheck PAT_TEMP_INSTANCE=` runs regress and isolation
# against the server PGHOST/PGPORT name instead, which must preload pg_pat and have those settings.
PAT_TEMP_INSTANCE ?= 1
ifneq ($(PAT_TEMP_INSTANCE),)
REGRESS_OPTS += --temp-instance=$(CURDIR)/tmp_check_regress --temp-config=$(srcdir)/test/pg_pat.conf
ISOLATION_OPTS += --temp-instance=$(CURDIR)/tmp_check_isolation --temp-config=$(srcdir)/test/pg_pat.conf
endif
EXTRA_CLEAN = tmp_check_regress tmp_check_isolation

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
PG_CXXFLAGS = -std=gnu++17 -Wall -Wextra -Werror -Wno-register -Wno-unused-parameter \
	-Wno-missing-field-initializers -fno-strict-aliasing
SHLIB_LINK = -lcrypto -lstdc++
# libpq: a standby's usage worker forwards usage to the primary.
SHLIB_LINK_INTERNAL = $(libpq)

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PostgreSQL's server headers are third-party code to us: -isystem keeps -Werror on our code only.
override CPPFLAGS := $(patsubst -I$(includedir_server),-isystem $(includedir_server),$(CPPFLAGS))
# The LLVM bitcode for JIT inlining is compiled with clang and without PG_CXXFLAGS by default.
COMPILE.cxx.bc += $(PG_CXXFLAGS)

# The core stays PostgreSQL-free in this build too: its objects are compiled without PostgreSQL's
# include folders, so `#include "postgres.h"` there fails, and PAT_CORE_ONLY turns an include of
# a glue header into a static_assert that says why (src/pg/bridge/postgres.hpp).
$(CORE_SRCS:.cpp=.o) $(CORE_SRCS:.cpp=.bc): override CPPFLAGS := -I$(srcdir)/src -DPAT_CORE_ONLY

# The install script of the current version: schema/*.sql, each stating its objects as they are
# now, concatenated in name order. Not committed; `make clean` removes it.
SCHEMA_PARTS = $(sort $(wildcard schema/*.sql))
$(DATA_built): $(SCHEMA_PARTS)
	cat $(SCHEMA_PARTS) > $@.tmp
	mv $@.tmp $@

# A PGXN release archive of the committed tree (HEAD), as PGXN takes it: pg_pat-<version>.zip
# with every tracked file under pg_pat-<version>/, the version being META.json's. The install
# script is not in it: `make`, which a PGXN install runs first, builds it from schema/.
DIST_VERSION = $(shell sed -nE '0,/"version"/s/.*"version": "([^"]+)".*/\1/p' $(srcdir)/META.json)
# The module reports that release to the server (pg_get_loaded_modules()).
override CPPFLAGS += -DPAT_RELEASE_VERSION='"$(DIST_VERSION)"'
dist:
	git -C $(srcdir) archive --format=zip --prefix=pg_pat-$(DIST_VERSION)/ \
		-o $(CURDIR)/pg_pat-$(DIST_VERSION).zip HEAD
.PHONY: dist
