#!/bin/sh
# Seed the data volume from the image, then run the command (by default `ladder serve`).
#
# The image carries an exported ONNX model and a built index under /opt/ladder/seed. A new
# (empty) volume gets both; an existing volume keeps its own index (it may hold a newer one
# built with `ladder ingest` and swapped in with POST /v1/admin/reload) and only gains
# exported model files it lacks (their names carry a content hash, so nothing is replaced).
set -eu

data="${LADDER_DATA_DIR:-/data}"
seed=/opt/ladder/seed

mkdir -p "$data/models"
for file in "$seed"/models/*; do
  [ -e "$file" ] || continue
  name=$(basename "$file")
  [ -e "$data/models/$name" ] || cp -p "$file" "$data/models/$name"
done

if [ ! -d "$data/index" ] || [ -z "$(ls -A "$data/index" 2>/dev/null)" ]; then
  mkdir -p "$data/index"
  cp -Rp "$seed"/index/. "$data/index/"
fi

exec "$@"
