// Reading finetune's adapters.json; see adapters.h. Tested by tests/eval/test_eval.cpp.
#include "eval/adapters.h"

#include <filesystem>

#include "core/artifact.h"
#include "core/error.h"
#include "core/fsutil.h"

namespace slmify {

namespace fs = std::filesystem;

namespace {
const char* kRerunFinetune = "run `slmify finetune` again to write the adapters anew";
}  // namespace

FinetuneIndex finetune_index_read(const std::string& dir) {
  const std::string where = "FINETUNE_DIR " + dir;
  ArtifactManifest m = artifact_read(dir);
  if (m.stage != "finetune" && m.stage != "registry")  // a registry version holds a finetune output's files
    throw_usage(where, "is the output of `slmify " + m.stage + "`, not of `slmify finetune`", "give the directory `slmify finetune -o` wrote");
  if (std::vector<std::string> bad = artifact_verify(dir, m); !bad.empty())
    throw_bad_data(dir + "/" + bad[0], "does not match manifest.json" + (bad.size() > 1 ? " (and " + std::to_string(bad.size() - 1) + " more)" : std::string()),
                   kRerunFinetune);
  const fs::path file = fs::path(dir) / "adapters.json";
  json doc = json::parse(read_file(file), nullptr, false);
  auto bad = [&](const std::string& what) { throw_bad_data(file.string(), what, kRerunFinetune); };
  if (doc.is_discarded() || !doc.is_object()) bad("is not valid JSON");
  if (doc.value("version", 0) != 1) bad("version is " + doc.value("version", json()).dump() + ", this slmify reads version 1");
  if (!doc.contains("adapters") || !doc["adapters"].is_array()) bad("has no adapters array");
  FinetuneIndex out;
  out.base = doc.value("base", std::string());
  for (size_t i = 0; i < doc["adapters"].size(); ++i) {
    const json& a = doc["adapters"][i];
    const std::string at = "adapters[" + std::to_string(i) + "]";
    if (!a.is_object() || !a.contains("dir") || !a["dir"].is_string() || !a.contains("name") || !a["name"].is_string())
      bad(at + " lacks name or dir");
    AdapterEntry ad;
    if (a.contains("cluster") && a["cluster"].is_number_integer()) ad.cluster = a["cluster"].get<int32_t>();
    else if (a.contains("cluster") && !a["cluster"].is_null()) bad(at + ".cluster must be an integer or null");
    ad.name = a["name"].get<std::string>();
    fs::path d = a["dir"].get<std::string>();
    ad.dir = (d.is_absolute() ? d : fs::absolute(fs::path(dir) / d)).lexically_normal().string();
    ad.method = a.value("method", std::string("lora"));
    if (ad.method != "lora" && ad.method != "full") bad(at + ".method is " + ad.method + ", expected lora or full");
    ad.base = a.value("base", out.base);
    ad.metrics = a.value("metrics", json::object());
    const char* needed = ad.method == "full" ? "config.json" : "adapter_config.json";
    std::error_code ec;
    if (!fs::exists(fs::path(ad.dir) / needed, ec)) throw_io((fs::path(ad.dir) / needed).string(), "is missing (adapter " + ad.name + ")", kRerunFinetune);
    if (ad.base.empty()) bad(at + " has no base model (neither it nor the file names one)");
    out.adapters.push_back(std::move(ad));
  }
  for (const json& s : doc.value("skipped", json::array()))
    if (s.is_object() && s.contains("cluster") && s["cluster"].is_number_integer())
      out.skipped[s["cluster"].get<int32_t>()] = s.value("reason", std::string("skipped by finetune"));
  return out;
}

}  // namespace slmify
