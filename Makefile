# pg_pat: PGXS build. `make && make install`, then `make installcheck` against a running server
# (scripts/test does all of it against a throwaway cluster).

EXTENSION = pg_pat
PGFILEDESC = "pg_pat - personal access tokens inside PostgreSQL"
MODULE_big = pg_pat
DATA = $(sort $(wildcard extension/pg_pat--*.sql))

CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
GLUE_SRCS = $(sort $(wildcard src/pg/*.cpp))
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

REGRESS = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=pg_pat
ISOLATION = $(basename $(notdir $(sort $(wildcard test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test --load-extension=pg_pat
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

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

# A PGXN release archive of the committed tree (HEAD), as PGXN takes it: pg_pat-<version>.zip
# with every tracked file under pg_pat-<version>/, the version being META.json's.
DIST_VERSION = $(shell sed -nE '0,/"version"/s/.*"version": "([^"]+)".*/\1/p' $(srcdir)/META.json)
# The module reports that release to the server (pg_get_loaded_modules()).
override CPPFLAGS += -DPAT_RELEASE_VERSION='"$(DIST_VERSION)"'
dist:
	git -C $(srcdir) archive --format=zip --prefix=pg_pat-$(DIST_VERSION)/ \
		-o $(CURDIR)/pg_pat-$(DIST_VERSION).zip HEAD
.PHONY: dist
