// Reads a whole (small) file into memory, throwing Error(Io) that names the file.
#pragma once
#include <string>

namespace rwkv {

std::string read_whole_file(const std::string& path, const char* what);

}  // namespace rwkv
