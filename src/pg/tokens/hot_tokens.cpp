// The hot token copies; see hot_tokens.hpp.
#include "pg/tokens/hot_tokens.hpp"

#include <string_view>

namespace pat::pg {

namespace {

struct HotToken {
    CachedToken token;  // its payload points into bytes
    alignas(MAXIMUM_ALIGNOF) char bytes[kHotTokenBytes];
};

// What a backend may spend on copies: well under a megabyte, whatever the scopes.
static_assert(sizeof(HotToken) * kHotTokenSlots <= 320 * 1024);

// Allocated at the first copy; its pages are touched only as slots fill, so a connection that
// checks a few tokens pays for a few slots.
HotToken *slots = nullptr;
// Which slots hold a copy: apart from the slots, so that forgetting touches no slot's page.
bool used[kHotTokenSlots];

uint32 slot_of(const pat::Digest &digest) {
    // The digest is uniformly distributed; bytes 4-7 are not the ones the backend's own table
    // hashes by, so a token's slot says nothing of its bucket there.
    uint32 bits = 0;
    memcpy(&bits, digest.data() + 4, sizeof bits);
    return bits & (kHotTokenSlots - 1);
}

// The address just past what token's payload block uses: its limits come last, else the views
// of its scopes.
const char *payload_end(const CachedToken &token) {
    if (token.restrictions != nullptr) {
        return reinterpret_cast<const char *>(token.restrictions) + VARSIZE(token.restrictions);
    }
    return reinterpret_cast<const char *>(token.sorted_scopes + token.scope_count);
}

}  // namespace

CachedToken *find_hot_token(const pat::Digest &digest) {
    uint32 slot = slot_of(digest);
    if (!used[slot] || slots[slot].token.digest != digest) {
        return nullptr;
    }
    return &slots[slot].token;
}

void keep_hot_token(const CachedToken &token) {
    const char *start = static_cast<const char *>(token.payload);
    Size size = static_cast<Size>(payload_end(token) - start);
    if (size > kHotTokenBytes) {
        return;
    }
    if (slots == nullptr) {
        slots = static_cast<HotToken *>(
            MemoryContextAlloc(TopMemoryContext, sizeof(HotToken) * kHotTokenSlots));
    }
    uint32 slot = slot_of(token.digest);
    HotToken &hot = slots[slot];
    memcpy(hot.bytes, start, size);
    // Every pointer of the token points into its payload block: moved by the same distance.
    ptrdiff_t moved = hot.bytes - start;
    hot.token = token;
    hot.token.payload = hot.bytes;
    hot.token.user_id = reinterpret_cast<text *>(reinterpret_cast<char *>(token.user_id) + moved);
    hot.token.name = reinterpret_cast<text *>(reinterpret_cast<char *>(token.name) + moved);
    hot.token.scopes =
        reinterpret_cast<ArrayType *>(reinterpret_cast<char *>(token.scopes) + moved);
    auto *views = reinterpret_cast<std::string_view *>(
        reinterpret_cast<char *>(const_cast<std::string_view *>(token.sorted_scopes)) + moved);
    for (int i = 0; i < token.scope_count; ++i) {
        views[i] = std::string_view(views[i].data() + moved, views[i].size());
    }
    hot.token.sorted_scopes = views;
    if (token.restrictions != nullptr) {
        hot.token.restrictions = reinterpret_cast<const varlena *>(
            reinterpret_cast<const char *>(token.restrictions) + moved);
    }
    used[slot] = true;
}

void forget_hot_tokens() {
    memset(used, 0, sizeof used);
}

}  // namespace pat::pg
