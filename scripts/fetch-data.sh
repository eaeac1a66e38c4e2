#!/usr/bin/env bash
# Put Fashion-MNIST, which wgtrain's tests train on, into data/ (git-ignored) from Debian's
# dataset-fashion-mnist package (gzip IDX under /usr/share/datasets/fashion-mnist/), for
# machines without internet access; with it, `wgtrain data fetch fashion-mnist` does the same
# from the dataset's own mirrors. Verifies the checksums of the decompressed files.
# Idempotent: files already present and correct are left alone. The UCI digits are built in.
# Usage: scripts/fetch-data.sh [DATA_DIR]   (default: data/ at the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-data}"
mkdir -p "$DATA/fashion-mnist"

# sha256 of each decompressed file.
declare -A SHA=(
    [fashion-mnist/train-images-idx3-ubyte.gz]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
    [fashion-mnist/train-labels-idx1-ubyte.gz]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
    [fashion-mnist/t10k-images-idx3-ubyte.gz]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
    [fashion-mnist/t10k-labels-idx1-ubyte.gz]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
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
