#!/usr/bin/env bash
# Fetch the datasets wgtrain's tests and default runs use into data/ (git-ignored) and verify
# the checksums of the decompressed files. Idempotent: files already present and correct are
# left alone. Sources:
#   Fashion-MNIST — Debian's dataset-fashion-mnist (gzip IDX under /usr/share/datasets/fashion-mnist/)
#   UCI digits    — sklearn/datasets/data/digits.csv.gz inside the scikit-learn wheel (PyPI)
# Usage: scripts/fetch-data.sh [DATA_DIR]   (default: data/ at the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-data}"
mkdir -p "$DATA/fashion-mnist" "$DATA/digits"

# sha256 of each decompressed file.
declare -A SHA=(
    [fashion-mnist/train-images-idx3-ubyte.gz]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    [fashion-mnist/train-labels-idx1-ubyte.gz]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    [fashion-mnist/t10k-images-idx3-ubyte.gz]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    [fashion-mnist/t10k-labels-idx1-ubyte.gz]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
    [digits/digits.csv.gz]=6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8
)

verified() { # FILE: present, and its decompressed bytes have the expected sha256
    local rel="$1" file="$DATA/$1"
    [ -f "$file" ] && [ "$(gunzip -c "$file" | sha256sum | cut -c1-64)" = "${SHA[$rel]}" ]
}

fashion_missing() {
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        verified "fashion-mnist/$f.gz" || return 0
    done
    return 1
}

if fashion_missing; then
    SRC=/usr/share/datasets/fashion-mnist
    if [ ! -d "$SRC" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "Fashion-MNIST: $SRC is missing; as root run: apt-get install dataset-fashion-mnist" >&2
            exit 1
        fi
        echo "== installing Debian's dataset-fashion-mnist"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq dataset-fashion-mnist
    fi
    cp "$SRC"/*-ubyte.gz "$DATA/fashion-mnist/"
fi

if ! verified digits/digits.csv.gz; then
    echo "== fetching the UCI digits from the scikit-learn wheel"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --only-binary=:all: scikit-learn -d "$tmp"
    python3 - "$tmp" "$DATA/digits/digits.csv.gz" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/scikit_learn-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("sklearn/datasets/data/digits.csv.gz"))
PY
fi

status=0
for rel in "${!SHA[@]}"; do
    if verified "$rel"; then
        echo "ok       $DATA/$rel"
    else
        echo "MISMATCH $DATA/$rel (decompressed sha256 differs; delete it and rerun)" >&2
        status=1
    fi
done
exit $status
