// report.html of the eval stage: one self-contained page (inline CSS and SVG, no script, no
// network) made from report.json alone: the totals, a bar chart of the replaceable share, the
// per-cluster table and side-by-side examples of LLM and SLM answers. Every text is escaped.
// Tested by tests/eval/test_eval.cpp.
#pragma once

#include <string>
#include <string_view>

#include "core/record.h"

namespace slmify {

std::string eval_report_html(const json& report);
/// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view s);

}  // namespace slmify
