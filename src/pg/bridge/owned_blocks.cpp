// The assert-build check of the longjmp rule (guard.hpp): the glue's own operator new and
// delete, which track the heap blocks the glue and core make, and the checks over them. Without
// USE_ASSERT_CHECKING this file is empty and the standard operators are used.
#include "pg/bridge/guard.hpp"

#ifdef USE_ASSERT_CHECKING

#include <algorithm>
#include <cstdlib>
#include <new>

// Hidden, so that the calls compiled into pg_pat bind to these and no other library's are
// replaced: libstdc++ is loaded before pg_pat (ICU needs it) and keeps its own. So the blocks
// libstdc++ makes in its own code (std::string's buffers, mostly) are not tracked; a block this
// code did not track is freed without a word.
__asm__(".hidden _Znwm");
__asm__(".hidden _Znam");
__asm__(".hidden _ZnwmRKSt9nothrow_t");
__asm__(".hidden _ZnamRKSt9nothrow_t");
__asm__(".hidden _ZnwmSt11align_val_t");
__asm__(".hidden _ZnamSt11align_val_t");
__asm__(".hidden _ZnwmSt11align_val_tRKSt9nothrow_t");
__asm__(".hidden _ZnamSt11align_val_tRKSt9nothrow_t");
__asm__(".hidden _ZdlPv");
__asm__(".hidden _ZdaPv");
__asm__(".hidden _ZdlPvm");
__asm__(".hidden _ZdaPvm");
__asm__(".hidden _ZdlPvRKSt9nothrow_t");
__asm__(".hidden _ZdaPvRKSt9nothrow_t");
__asm__(".hidden _ZdlPvSt11align_val_t");
__asm__(".hidden _ZdaPvSt11align_val_t");
__asm__(".hidden _ZdlPvmSt11align_val_t");
__asm__(".hidden _ZdaPvmSt11align_val_t");
__asm__(".hidden _ZdlPvSt11align_val_tRKSt9nothrow_t");
__asm__(".hidden _ZdaPvSt11align_val_tRKSt9nothrow_t");

namespace pat::pg {

namespace {

// The tracked blocks alive, each with its serial number (blocks are numbered as they are made):
// an open-addressing table in malloc'd memory, so that tracking never calls operator new.
struct Slot {
    uintptr_t block;  // 0: empty; kRemoved: a block was freed here
    uint64 serial;
};
constexpr uintptr_t kRemoved = 1;

Slot *slots = nullptr;
size_t slot_count = 0;   // a power of two
size_t slots_taken = 0;  // live and removed
uint64 next_serial = 1;
// The first serial of the innermost call_pg() or guarded(); 0: none is running.
uint64 frame_first_serial = 0;
// Inside BackendAllocations: blocks are made untracked.
int backend_depth = 0;
// Set when the table could not grow: no check is made any more in this backend.
bool tracking_lost = false;

size_t slot_of(uintptr_t block) {
    uint64 h = static_cast<uint64>(block) * UINT64CONST(0x9E3779B97F4A7C15);
    return static_cast<size_t>(h ^ (h >> 29)) & (slot_count - 1);
}

bool grow() {
    size_t new_count = slot_count == 0 ? 1024 : slot_count * 2;
    auto *grown = static_cast<Slot *>(std::calloc(new_count, sizeof(Slot)));
    if (grown == nullptr) {
        return false;
    }
    Slot *old = slots;
    size_t old_count = slot_count;
    slots = grown;
    slot_count = new_count;
    slots_taken = 0;
    for (size_t i = 0; i < old_count; ++i) {
        if (old[i].block > kRemoved) {
            size_t at = slot_of(old[i].block);
            while (slots[at].block != 0) {
                at = (at + 1) & (slot_count - 1);
            }
            slots[at] = old[i];
            ++slots_taken;
        }
    }
    std::free(old);
    return true;
}

void track(void *block) noexcept {
    if (block == nullptr || backend_depth > 0 || tracking_lost) {
        return;
    }
    if ((slots_taken + 1) * 2 > slot_count && !grow()) {
        tracking_lost = true;
        return;
    }
    auto key = reinterpret_cast<uintptr_t>(block);
    size_t at = slot_of(key);
    size_t free_at = SIZE_MAX;
    while (slots[at].block != 0) {
        if (slots[at].block == key) {  // freed by code that does not track: now made again
            slots[at].serial = next_serial++;
            return;
        }
        if (slots[at].block == kRemoved && free_at == SIZE_MAX) {
            free_at = at;
        }
        at = (at + 1) & (slot_count - 1);
    }
    if (free_at == SIZE_MAX) {
        free_at = at;
        ++slots_taken;
    }
    slots[free_at] = Slot{key, next_serial++};
}

void untrack(void *block) noexcept {
    if (block == nullptr || slot_count == 0) {
        return;
    }
    auto key = reinterpret_cast<uintptr_t>(block);
    for (size_t at = slot_of(key); slots[at].block != 0; at = (at + 1) & (slot_count - 1)) {
        if (slots[at].block == key) {
            slots[at].block = kRemoved;
            return;
        }
    }
}

// How many tracked blocks alive were made at or after serial first.
int64 alive_since(uint64 first) noexcept {
    int64 alive = 0;
    for (size_t i = 0; i < slot_count; ++i) {
        alive += slots[i].block > kRemoved && slots[i].serial >= first;
    }
    return alive;
}

// Runs try_allocate until it returns a block, calling the new-handler between tries as
// operator new does; the block is tracked.
template <typename TryAllocate>
void *allocate_with(TryAllocate try_allocate) {
    for (;;) {
        if (void *block = try_allocate()) {
            track(block);
            return block;
        }
        std::new_handler handler = std::get_new_handler();
        if (handler == nullptr) {
            throw std::bad_alloc();
        }
        handler();
    }
}

void *allocate(std::size_t size) {
    return allocate_with([size] { return std::malloc(size == 0 ? 1 : size); });
}

void *allocate_aligned(std::size_t size, std::align_val_t alignment) {
    std::size_t align = std::max(static_cast<std::size_t>(alignment), sizeof(void *));
    return allocate_with([size, align]() -> void * {
        void *block = nullptr;
        return posix_memalign(&block, align, size == 0 ? 1 : size) == 0 ? block : nullptr;
    });
}

void release(void *block) noexcept {
    untrack(block);
    std::free(block);
}

}  // namespace

OwningFrame enter_owning_frame() noexcept {
    OwningFrame frame = {next_serial, frame_first_serial, backend_depth};
    frame_first_serial = next_serial;
    return frame;
}

void leave_owning_frame(const OwningFrame &frame) noexcept {
    frame_first_serial = frame.outer_first_serial;
}

void leave_owning_frame_after_longjmp(const OwningFrame &frame, const char *catcher) noexcept {
    backend_depth = frame.backend_depth;  // a BackendAllocations the longjmp skipped
    int64 skipped = tracking_lost ? 0 : alive_since(frame.first_serial);
    if (skipped > 0) {
        ereport(FATAL, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg_internal("pg_pat: a PostgreSQL error longjmped past %lld C++ heap "
                                        "block(s) still owned, to %s",
                                        static_cast<long long>(skipped), catcher),
                        errdetail_internal("A C++ frame that owns objects with destructors "
                                           "called PostgreSQL other than through call_pg().")));
    }
    leave_owning_frame(frame);
}

void check_nothing_owned(const char *helper) noexcept {
    if (frame_first_serial == 0 || tracking_lost) {
        return;  // not called from pg_pat's SQL functions (a worker's loop, a hook)
    }
    int64 owned = alive_since(frame_first_serial);
    if (owned > 0) {
        ereport(FATAL, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg_internal("pg_pat: %s, which may raise a PostgreSQL error, was "
                                        "called while its caller owns %lld C++ heap block(s)",
                                        helper, static_cast<long long>(owned)),
                        errdetail_internal("A C++ frame that owns objects with destructors "
                                           "called PostgreSQL other than through call_pg().")));
    }
}

BackendAllocations::BackendAllocations() noexcept {
    ++backend_depth;
}

BackendAllocations::~BackendAllocations() {
    --backend_depth;
}

}  // namespace pat::pg

void *operator new(std::size_t size) {
    return pat::pg::allocate(size);
}
void *operator new[](std::size_t size) {
    return pat::pg::allocate(size);
}
void *operator new(std::size_t size, const std::nothrow_t &) noexcept {
    try {
        return pat::pg::allocate(size);
    } catch (...) {
        return nullptr;
    }
}
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept {
    try {
        return pat::pg::allocate(size);
    } catch (...) {
        return nullptr;
    }
}
void *operator new(std::size_t size, std::align_val_t alignment) {
    return pat::pg::allocate_aligned(size, alignment);
}
void *operator new[](std::size_t size, std::align_val_t alignment) {
    return pat::pg::allocate_aligned(size, alignment);
}
void *operator new(std::size_t size, std::align_val_t alignment, const std::nothrow_t &) noexcept {
    try {
        return pat::pg::allocate_aligned(size, alignment);
    } catch (...) {
        return nullptr;
    }
}
void *operator new[](std::size_t size, std::align_val_t alignment,
                     const std::nothrow_t &) noexcept {
    try {
        return pat::pg::allocate_aligned(size, alignment);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void *block) noexcept {
    pat::pg::release(block);
}
void operator delete[](void *block) noexcept {
    pat::pg::release(block);
}
void operator delete(void *block, std::size_t) noexcept {
    pat::pg::release(block);
}
void operator delete[](void *block, std::size_t) noexcept {
    pat::pg::release(block);
}
void operator delete(void *block, const std::nothrow_t &) noexcept {
    pat::pg::release(block);
}
void operator delete[](void *block, const std::nothrow_t &) noexcept {
    pat::pg::release(block);
}
void operator delete(void *block, std::align_val_t) noexcept {
    pat::pg::release(block);
}
void operator delete[](void *block, std::align_val_t) noexcept {
    pat::pg::release(block);
}
void operator delete(void *block, std::size_t, std::align_val_t) noexcept {
    pat::pg::release(block);
}
void operator delete[](void *block, std::size_t, std::align_val_t) noexcept {
    pat::pg::release(block);
}
void operator delete(void *block, std::align_val_t, const std::nothrow_t &) noexcept {
    pat::pg::release(block);
}
void operator delete[](void *block, std::align_val_t, const std::nothrow_t &) noexcept {
    pat::pg::release(block);
}

#endif  // USE_ASSERT_CHECKING
