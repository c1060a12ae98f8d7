// The version line: `sluice --version` prints it, SHOW VERSION answers it.
#pragma once

#include <string>

namespace sluice {

inline std::string versionLine() { return std::string("Sluice ") + SLUICE_VERSION; }

}  // namespace sluice
