#include "message.hpp"

namespace pat {

namespace {

bool is_continuation_byte(unsigned char byte) {
    return (byte & 0xC0) == 0x80;
}

}  // namespace

std::string shown(std::string_view value, std::size_t max_chars) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (is_continuation_byte(static_cast<unsigned char>(value[i]))) {
            continue;
        }
        if (chars == max_chars) {
            return std::string(value.substr(0, i)) + "...";
        }
        ++chars;
    }
    return std::string(value);
}

}  // namespace pat
