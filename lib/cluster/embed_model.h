// The `model` embedding: each call's view parts (masked, in view order, one per line) embedded by
// a sentence-embedding model through lib/model's Encoder (e.g. all-MiniLM-L6-v2): mean-pooled and
// L2-normalised, so the rest of the stage (k-means, silhouette, outliers) works unchanged.
// Tested by tests/cluster/test_embed_model.cpp (quality against the labelled mixture).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "cluster/embed.h"

namespace slmify {

/// Embeddings of the calls of `corpus` [calls x dim], rows L2-normalised; `dim` receives the
/// width and `stats` the model, token budget and throughput. The model directory is
/// cluster.embedding_model; errors name it.
std::vector<float> embed_with_model(const Corpus& corpus, const std::array<bool, part_count>& parts,
                                    const std::string& model_dir, int& dim, json& stats);

}  // namespace slmify
