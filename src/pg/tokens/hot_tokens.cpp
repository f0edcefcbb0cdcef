// The hot token copies; see hot_tokens.hpp.
#include "pg/tokens/hot_tokens.hpp"

#include <sys/mman.h>

namespace pat::pg {

namespace {

// Positions count the bytes ever written to the ring: a copy written at position p sits at
// p % kHotTokenRingBytes and is whole until the ring's head passes p + kHotTokenRingBytes.
// Starting the head one lap in leaves position 0 free to mean "no copy".
constexpr uint64 kFirstPosition = kHotTokenRingBytes;

struct Way {
    uint64 position;  // 0: none
    uint32 tag;       // digest bytes the set number does not use: most misses read no copy
};

struct HotState {
    Way index[kHotTokenSets][kHotTokenWays];
    uint64 head;
    alignas(MAXIMUM_ALIGNOF) char ring[kHotTokenRingBytes];
};

// What a backend may spend on copies: well under a megabyte, whatever the tokens.
static_assert(sizeof(HotState) <= 420 * 1024);
static_assert((kHotTokenSets & (kHotTokenSets - 1)) == 0);
static_assert(kHotTokenRingBytes % MAXIMUM_ALIGNOF == 0);
static_assert(kHotTokenLargestCopy <= kHotTokenRingBytes / 16);

// Allocated at the first copy (a connection that never checks a token never pays for it).
HotState *state = nullptr;

uint32 digest_bits(const pat::Digest &digest, int offset) {
    uint32 bits = 0;
    memcpy(&bits, digest.data() + offset, sizeof bits);
    return bits;
}

// The digest is uniformly distributed; bytes 4-11 are not the ones the shared table hashes by.
Way *set_of(const pat::Digest &digest) {
    return state->index[digest_bits(digest, 4) & (kHotTokenSets - 1)];
}

uint32 tag_of(const pat::Digest &digest) {
    return digest_bits(digest, 8);
}

bool whole(uint64 position) {
    return position != 0 && state->head - position <= kHotTokenRingBytes;
}

CachedToken *copy_at(uint64 position) {
    return reinterpret_cast<CachedToken *>(state->ring + position % kHotTokenRingBytes);
}

Size copy_size(const CachedToken &token) {
    return MAXALIGN(sizeof(CachedToken)) + MAXALIGN(payload_size(token));
}

// Where the head writes a copy of size bytes: a copy never wraps, the rest of a lap goes unused.
uint64 next_position(Size size) {
    Size offset = state->head % kHotTokenRingBytes;
    return offset + size > kHotTokenRingBytes ? state->head + (kHotTokenRingBytes - offset)
                                              : state->head;
}

// Writes token at position (next_position's) and moves the head past it.
void write_copy(const CachedToken &token, Size size, uint64 position) {
    char *room = state->ring + position % kHotTokenRingBytes;
    *reinterpret_cast<CachedToken *>(room) =
        relocated_token(token, room + MAXALIGN(sizeof(CachedToken)));
    state->head = position + size;
}

// The ring and its index in pages of their own, mapped at the first copy: not from malloc, whose
// heap a long-lived block taken in the middle of a query would pin (the query's freed memory
// under it could not go back to the system). Fresh pages read as zeros: an empty index.
bool map_state() {
    void *pages =
        mmap(nullptr, sizeof(HotState), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) {
        return false;
    }
    state = static_cast<HotState *>(pages);
    state->head = kFirstPosition;
    return true;
}

}  // namespace

CachedToken *find_hot_token(const pat::Digest &digest) {
    if (state == nullptr) {
        return nullptr;
    }
    Way *set = set_of(digest);
    uint32 tag = tag_of(digest);
    for (int i = 0; i < kHotTokenWays; ++i) {
        Way &way = set[i];
        if (way.tag != tag || !whole(way.position)) {
            continue;
        }
        CachedToken *copy = copy_at(way.position);
        if (copy->digest != digest) {
            continue;
        }
        if (state->head - way.position > kHotTokenRingBytes / 2) {
            // Aged through half the ring and still checked: written anew at the head, so that
            // the one-off checks written since do not push it out; unless writing it there
            // would overwrite it first (it is then nearly a lap old, and found again shared).
            Size size = copy_size(*copy);
            uint64 position = next_position(size);
            if (position + size - way.position <= kHotTokenRingBytes) {
                write_copy(*copy, size, position);
                way.position = position;
                copy = copy_at(position);
            }
        }
        return copy;
    }
    return nullptr;
}

void keep_hot_token(const CachedToken &token) {
    Size size = copy_size(token);
    if (size > kHotTokenLargestCopy || (state == nullptr && !map_state())) {
        return;
    }
    Way *set = set_of(token.digest);
    uint32 tag = tag_of(token.digest);
    // The way of this token's older copy (no longer current) if one is whole, so that a set
    // never holds two; else an empty way; else the oldest copy's.
    Way *victim = nullptr;
    for (int i = 0; i < kHotTokenWays && victim == nullptr; ++i) {
        if (set[i].tag == tag && whole(set[i].position) &&
            copy_at(set[i].position)->digest == token.digest) {
            victim = &set[i];
        }
    }
    for (int i = 0; i < kHotTokenWays && victim == nullptr; ++i) {
        if (!whole(set[i].position)) {
            victim = &set[i];
        }
    }
    if (victim == nullptr) {
        victim = &set[0];
        for (int i = 1; i < kHotTokenWays; ++i) {
            if (set[i].position < victim->position) {
                victim = &set[i];
            }
        }
    }
    uint64 position = next_position(size);
    write_copy(token, size, position);
    victim->position = position;
    victim->tag = tag;
}

void forget_hot_tokens() {
    if (state != nullptr) {
        // Every copy falls more than a lap behind the head: none is whole any more.
        state->head = next_position(kHotTokenRingBytes) + kHotTokenRingBytes;
    }
}

}  // namespace pat::pg
