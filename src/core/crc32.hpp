// CRC-32 (IEEE 802.3, the zlib/PNG polynomial 0xEDB88320, reflected, init and final xor
// 0xFFFFFFFF).
#pragma once

#include <cstdint>
#include <string_view>

namespace pat {

// crc32("123456789") == 0xCBF43926.
std::uint32_t crc32(std::string_view data) noexcept;

}  // namespace pat
