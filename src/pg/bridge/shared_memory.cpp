// pg_pat's one shared memory segment; see shared_memory.hpp.
#include "pg/bridge/shared_memory.hpp"

namespace pat::pg {

namespace {

// The segment's own header, first in it.
struct SegmentHeader {
    slock_t mutex;
    Latch *launcher_latch;
};

// The usage store, the audit linker and the lifecycle schedule: room for a few more.
constexpr int kMaxParts = 12;
SharedPart parts[kMaxParts];
int part_count = 0;

SegmentHeader *segment = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// Each part starts on a cache line of its own (ShmemInitStruct's memory starts on one), so a
// part may align its members to cache lines and two parts never share a line.
Size segment_size() {
    Size size = CACHELINEALIGN(sizeof(SegmentHeader));
    for (int i = 0; i < part_count; ++i) {
        size = add_size(size, CACHELINEALIGN(parts[i].header_size));
    }
    return size;
}

void request_memory() {
    if (previous_request_hook != nullptr) {
        previous_request_hook();
    }
    RequestAddinShmemSpace(segment_size());
    for (int i = 0; i < part_count; ++i) {
        if (parts[i].request != nullptr) {
            parts[i].request();
        }
    }
}

void attach_memory() {
    if (previous_startup_hook != nullptr) {
        previous_startup_hook();
    }
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    char *base = static_cast<char *>(ShmemInitStruct("pg_pat", segment_size(), &found));
    segment = reinterpret_cast<SegmentHeader *>(base);
    if (!found) {
        SpinLockInit(&segment->mutex);
        segment->launcher_latch = nullptr;
    }
    Assert(reinterpret_cast<uintptr_t>(base) % PG_CACHE_LINE_SIZE == 0);
    Size offset = CACHELINEALIGN(sizeof(SegmentHeader));
    for (int i = 0; i < part_count; ++i) {
        parts[i].attach(base + offset, !found);
        offset += CACHELINEALIGN(parts[i].header_size);
    }
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void add_shared_part(const SharedPart &part) {
    if (part_count == kMaxParts) {
        elog(ERROR, "pg_pat has more shared memory parts than the segment lists");
    }
    if (part_count == 0) {
        previous_request_hook = shmem_request_hook;
        shmem_request_hook = request_memory;
        previous_startup_hook = shmem_startup_hook;
        shmem_startup_hook = attach_memory;
    }
    parts[part_count++] = part;
}

void set_launcher_latch(Latch *latch) {
    SpinLockAcquire(&segment->mutex);
    segment->launcher_latch = latch;
    SpinLockRelease(&segment->mutex);
}

void wake_launcher() {
    if (segment == nullptr) {
        return;  // only when not preloaded, and then no function runs
    }
    SpinLockAcquire(&segment->mutex);
    Latch *latch = segment->launcher_latch;
    SpinLockRelease(&segment->mutex);
    if (latch != nullptr) {
        SetLatch(latch);
    }
}

}  // namespace pat::pg
