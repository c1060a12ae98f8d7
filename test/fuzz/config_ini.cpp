// The configuration loader (config/loader.cpp, config.cpp, line_source.cpp): a whole
// pgbouncer.ini text through parseConfigString, as `sluice FILE` and RELOAD read it.
// `%include` resolves against the corpus directory of this target (a relative name reads a
// seed file there); inputs naming an absolute path or a parent directory are skipped, so the
// fuzzer never reads the machine's files. Invariants: an error says what and where; a loaded
// configuration applies again setting by setting (admin SET) without tripping anything.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "fuzz_util.h"

using namespace sluice;

#ifndef SLUICE_FUZZ_CORPUS_DIR
#define SLUICE_FUZZ_CORPUS_DIR "."
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text = fuzz::asText(data, size);
    if (fuzz::namesOutsideFile(text, "%include")) return 0;
    auto config = config::parseConfigString(text, SLUICE_FUZZ_CORPUS_DIR "/config_ini/fuzz.ini");
    if (!config) {
        FUZZ_CHECK(!config.error().message.empty());
        return 0;
    }
    FUZZ_CHECK(!config->fallbackDatabase || config->fallbackDatabase->dbname.empty());
    for (const auto& [name, entry] : config->databases) FUZZ_CHECK(!entry.hosts.empty() || entry.host.empty());
    // SET of a few settings with values from the file's own [databases] names: never a crash.
    for (const auto& [name, entry] : config->databases) {
        (void)config::applySetting(*config, "pool_mode", name);
        (void)config::applySetting(*config, "default_pool_size", name);
        (void)config::applySetting(*config, "query_timeout", entry.dbname);
        break;
    }
    return 0;
}
