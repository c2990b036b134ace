// slmify: the subcommands in pipeline order, then the tools around them. Each is registered by
// its own cmd_*.cpp; this file maps errors to the exit codes of docs/cli.md and nothing else.
#include <sys/stat.h>
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "command.h"
#include "core/error.h"
#include "core/log.h"
#include "slmify/version.h"

using namespace slmify;

int main(int argc, char** argv) {
  // Everything slmify writes derives from logged calls (datasets, reports, models, the registry):
  // owner-only, whatever the caller's umask (docs/security.md).
  ::umask(077);
  CLI::App app{"slmify: turn an agent's logged LLM calls into small specialised models"};
  app.set_version_flag("--version", std::string("slmify ") + SLMIFY_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  bool quiet = false;
  std::string level = "info";
  app.add_flag("-q,--quiet", quiet, "only errors on stderr");
  app.add_option("--log-level", level, "debug, info, warn, error or quiet")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
      ->capture_default_str();
  app.parse_complete_callback([&]() {
    LogLevel l = LogLevel::info;
    log_parse_level(level, l);
    log_set_level(quiet ? LogLevel::error : l);
  });

  cli::Store store;
  cli::register_collect(app, store);
  cli::register_scrub(app, store);
  cli::register_cluster(app, store);
  cli::register_select(app, store);
  cli::register_finetune(app, store);
  cli::register_retrain(app, store);
  cli::register_registry(app, store);
  cli::register_eval(app, store);
  cli::register_route(app, store);
  cli::register_run(app, store);
  cli::register_dataset(app, store);
  cli::register_generate(app, store);
  cli::register_model(app, store);
  cli::register_config(app, store);

  try {
    app.parse(argc, argv);
    return static_cast<int>(ExitCode::ok);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help, version or the parse error
    return rc == 0 ? 0 : static_cast<int>(ExitCode::usage);
  } catch (const Error& e) {
    // "Nothing new" and "kept" are outcomes cron acts on, not failures.
    const bool outcome = e.code() == ExitCode::nothing_to_do || e.code() == ExitCode::kept;
    for (const Problem& p : e.problems()) std::cerr << (outcome ? "slmify: " : "error: ") << format_problem(p) << "\n";
    return static_cast<int>(e.code());
  } catch (const std::filesystem::filesystem_error& e) {
    std::cerr << "error: " << e.path1().string() << ": " << e.code().message() << "\n  hint: check the path and its permissions\n";
    return static_cast<int>(ExitCode::io);
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory\n  hint: lower dataset.shard_records or the batch size, or use a machine with more memory\n";
    return static_cast<int>(ExitCode::io);
  } catch (const std::exception& e) {
    std::cerr << "error: internal error: " << e.what() << "\n  hint: this is a bug in slmify; please report it with the command you ran\n";
    return static_cast<int>(ExitCode::internal);
  }
}
