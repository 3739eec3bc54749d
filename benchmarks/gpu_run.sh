#!/usr/bin/env bash
# LSUV speed on a GPU machine that has torch and torchvision but not fastai: xresnet50 and vit_b_16 (LSUV time / forward
# time, peak memory, host synchronisations), mobilenet_v3_small and the depth sweep; about two minutes on an H200.
#
#   bash benchmarks/gpu_run.sh [OUT]   # writes OUT/speed_cuda.md and OUT/depth_cuda.png (default: $OUT, else benchmarks/results)
#
# fastai and the dependencies it imports come from wheels in .whl/ (CPython 3.12, x86-64 Linux; how to make them:
# benchmarks/README.md). Only the distributions this Python lacks are installed, into /tmp/site: the machine's own
# torch, numpy, pillow... stay in charge.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-benchmarks/results}}
site=/tmp/site stubs=/tmp/fastai_lsuv_stubs
missing=$(python3 - <<'EOF'
import glob, importlib.metadata as md, os, re
for w in sorted(glob.glob('.whl/*.whl')):
    name = re.sub(r'[-_.]+', '-', os.path.basename(w).split('-')[0]).lower()
    try: md.distribution(name)
    except md.PackageNotFoundError: print(w)
EOF
)
install() { python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$@"; }
# all at once; if one does not fit this Python (the binary wheels are for CPython 3.12), one by one, skipping it
if [ -n "$missing" ]; then install $missing || for w in $missing; do install "$w" || echo "could not install $w"; done; fi
# fastai imports scipy and scikit-learn when it loads, for metrics and data splits LSUV never calls: where they are
# missing, empty stand-ins at the end of the path let the import through (a call into one would fail loudly)
mkdir -p "$stubs/scipy" "$stubs/sklearn"
cat > "$stubs/stub.py" <<'EOF'
"Stand-in for a package that is not installed: its names import, and fail when called"
def __getattr__(name):
    if name.startswith('__'): raise AttributeError(name)
    def missing(*args, **kwargs): raise ImportError(f"{__name__}.{name}: not installed on this machine")
    return missing
EOF
for pkg in scipy sklearn; do
    if ! python3 -c "import $pkg" 2>/dev/null; then
        for m in __init__ ndimage stats metrics model_selection; do cp "$stubs/stub.py" "$stubs/$pkg/$m.py"; done
    fi
done
export PYTHONPATH="$site:$PWD:$stubs"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c 'import torch, fastai, fastai_lsuv; print("torch", torch.__version__, "fastai", fastai.__version__, "cuda", torch.cuda.is_available())'
python3 benchmarks/speed.py --device cuda --threads 4 --model xresnet50 --bs 64 --size 224 --repeats 10 \
    --tv-models vit_b_16@64x224,mobilenet_v3_small@8x64 --depth-repeats 5 --out "$out"
