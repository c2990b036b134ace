// Artifact directories (lib/core/artifact.h): files listed with checksums that coreutils'
// sha256sum agrees with, atomic replacement, abort leaves the old output, damage is named.
#include <catch2/catch.hpp>

#include <fstream>

#include "core/artifact.h"
#include "core/error.h"
#include "test_util.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("artifact: commit lists every file with sha256sum's checksum and swaps atomically", "[artifact]") {
  TempDir tmp;
  fs::path out = tmp / "select";
  {
    ArtifactWriter w(out, "select", json{{"k", 1}});
    slmify_test::write_bytes(w.staging_dir() / "plan.yaml", "version: 1\n");
    slmify_test::write_bytes(w.staging_dir() / "cluster-3" / "metrics.json", "{}\n");
    w.stats()["clusters"] = 2;
    w.commit();
  }
  ArtifactManifest m = artifact_read(out);
  REQUIRE(m.files.size() == 2);
  CHECK(m.files[0].file == "cluster-3/metrics.json");
  CHECK(m.files[1].file == "plan.yaml");
  CHECK(m.files[1].sha256 == slmify_test::sha256sum_cmd(out / "plan.yaml"));
  CHECK(m.stats["clusters"] == 2);
  CHECK(artifact_verify(out, m).empty());
  CHECK(input_ref(out.string()).kind == "artifact");
  CHECK(input_ref(out.string()).digest == m.digest);

  // A second write that is abandoned leaves the first in place and no hidden sibling behind.
  {
    ArtifactWriter w(out, "select", json::object());
    slmify_test::write_bytes(w.staging_dir() / "plan.yaml", "version: 2\n");
  }
  CHECK(slmify_test::read_bytes(out / "plan.yaml") == "version: 1\n");
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(tmp.path())) entries += e.path().filename() != "select";
  CHECK(entries == 0);

  // A replacement drops files the old output had.
  {
    ArtifactWriter w(out, "select", json::object());
    slmify_test::write_bytes(w.staging_dir() / "plan.yaml", "version: 3\n");
    w.commit();
  }
  CHECK_FALSE(fs::exists(out / "cluster-3"));
  CHECK(artifact_read(out).files.size() == 1);

  // Damage is reported per file.
  slmify_test::write_bytes(out / "plan.yaml", "edited\n");
  auto problems = artifact_verify(out, artifact_read(out));
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("plan.yaml") != std::string::npos);
}

TEST_CASE("artifact: a directory that is not a stage output is neither read nor replaced", "[artifact]") {
  TempDir tmp;
  slmify_test::write_bytes(tmp / "mine" / "notes.txt", "keep me");
  CHECK_THROWS_AS(ArtifactWriter(tmp / "mine", "eval", json::object()), Error);
  CHECK(slmify_test::read_bytes(tmp / "mine" / "notes.txt") == "keep me");
  CHECK_THROWS_AS(artifact_read(tmp / "mine"), Error);
  slmify_test::write_bytes(tmp / "bad" / "manifest.json", "{\"format\": \"slmify-artifact\", \"version\": 1");
  CHECK_THROWS_AS(artifact_read(tmp / "bad"), Error);
  CHECK_THROWS_AS(input_ref((tmp / "absent").string()), Error);
}
