// pg_pat's shared memory: one segment, ShmemInitStruct("pg_pat"), that holds the header of each
// wing's part one after the other, behind the segment's own header (the maintenance launcher's
// latch). A part that needs more beside it (the usage table, a hash of its own, and its locks)
// asks for it in its request callback and sets it up in its attach callback. The shmem hooks are
// installed once, here, so that no wing chains PostgreSQL's hooks itself and the lower wings
// need not know the higher ones: each wing adds its part from its setup function.
#pragma once

#include "pg/bridge/postgres.hpp"

namespace pat::pg {

struct SharedPart {
    // Bytes of its header in the segment.
    Size header_size;
    // In the shmem_request hook: what it needs beside its header (RequestAddinShmemSpace,
    // RequestNamedLWLockTranche); nullptr when nothing.
    void (*request)();
    // In every process at startup, under AddinShmemInitLock: header is its part of the segment,
    // to be initialised when first (the postmaster's own attach, or the first after a crash).
    void (*attach)(void *header, bool first);
};

// Adds a part to the segment; from _PG_init only. Parts are attached in the order added.
void add_shared_part(const SharedPart &part);

// The maintenance launcher's latch (nullptr: none is running), which any part sets when it has
// work for the launcher; the launcher sets it at start and clears it when it exits.
void set_launcher_latch(Latch *latch);

// Wakes the maintenance launcher, if one is running. Plain C: never errors, callable at commit.
void wake_launcher();

}  // namespace pat::pg
