// The client parameters the pooler keeps per client and sets on a server before handing it over
// (DESIGN §2): PgBouncer's fixed list plus the names in track_extra_parameters.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "conn/worker_report.h"
#include "pool/server_params.h"

namespace sluice::conn {

using ParameterChanges = std::vector<std::pair<std::string, std::string>>;

// SQL quoting: 'it''s' and "Odd ""Name""" (standard_conforming_strings, as PostgreSQL defaults).
std::string quoteLiteral(std::string_view value);
std::string quoteIdentifier(std::string_view name);

// "SET name = 'value';" for each change, quoted for any name and value.
std::string setStatements(const ParameterChanges& changes);

bool isTrackedParameter(std::string_view name, const config::Settings& settings);

// SHOW FDS's parameter columns of a connection, from its parameters.
void describeParameters(const pool::ServerParams& params, struct ConnectionRow& row);

// Whether `name` appears in a comma-separated list setting (ignore_startup_parameters…), case-insensitively.
bool listContains(std::string_view list, std::string_view name);

}  // namespace sluice::conn
