#!/usr/bin/env bash
# Re-copies the vendored MediaPipe selfie segmentation files from node_modules
# (after `npm install`), so Salon serves them itself: the page never fetches
# from another host. The version is pinned in package.json (devDependencies)
# and recorded in selfie_segmentation/VERSION.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=node_modules/@mediapipe/selfie_segmentation
dst=web/vendor/selfie_segmentation
[ -d "$src" ] || { echo "run npm install first ($src missing)" >&2; exit 1; }
rm -rf "$dst"
mkdir -p "$dst"
# The loader, the graph, the landscape model (the one Salon uses: 256x144
# input, faster), the general model, and both wasm builds (SIMD and not) with
# their glue scripts: the loader picks one at run time.
for f in selfie_segmentation.js selfie_segmentation.binarypb \
         selfie_segmentation.tflite selfie_segmentation_landscape.tflite \
         selfie_segmentation_solution_simd_wasm_bin.js selfie_segmentation_solution_simd_wasm_bin.wasm \
         selfie_segmentation_solution_wasm_bin.js selfie_segmentation_solution_wasm_bin.wasm \
         selfie_segmentation_solution_simd_wasm_bin.data \
         package.json README.md; do
  cp "$src/$f" "$dst/$f"
  chmod 644 "$dst/$f"
done
# The package declares Apache-2.0 but ships no LICENSE file: add the text.
if [ -f /usr/share/common-licenses/Apache-2.0 ]; then
  cp /usr/share/common-licenses/Apache-2.0 "$dst/LICENSE"
fi
node -e 'const p=require("./'"$dst"'/package.json"); console.log(p.name+"@"+p.version+" ("+p.license+")")' > "$dst/VERSION"
echo "vendored $(cat "$dst/VERSION") into $dst"
