// The schema versions this library knows; see schema_version.hpp.
#include "core/schema_version.hpp"

namespace pat {

SchemaVersion schema_version_named(std::string_view extversion) {
    static constexpr std::string_view kNames[] = {"1.0",  "1.1",  "1.2",  "1.3",  "1.4",
                                                  "1.5",  "1.6",  "1.7",  "1.8",  "1.9",
                                                  "1.10", "1.11", "1.12", "1.13", "1.14"};
    static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<int>(kNewestSchema));
    for (int i = 0; i < static_cast<int>(kNewestSchema); ++i) {
        if (extversion == kNames[i]) {
            return static_cast<SchemaVersion>(i + 1);
        }
    }
    return kNewestSchema;
}

}  // namespace pat
