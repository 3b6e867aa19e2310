#!/usr/bin/env bash
# Checks the installed llama-cpp-python by generating a few tokens, and rebuilds it once with the
# Makefile's portable CMAKE_ARGS when that crashes: pip reuses a wheel from its cache, which may
# have been compiled for another CPU (-march=native) or with ggml's AMX kernels, which segfault in
# llama_decode on some Sapphire Rapids VMs (llama.cpp issue #20824).
set -uo pipefail
python="$1"
"$python" scripts/check_local_model.py
status=$?
if [ "$status" -le 128 ]; then
  exit "$status"  # 0, or a clear error (missing weights) that a rebuild would not fix
fi
version=$("$python" -c "import importlib.metadata as m; print(m.version('llama_cpp_python'))")
echo "llama-cpp-python crashed (signal $((status - 128))); rebuilding $version with CMAKE_ARGS='${CMAKE_ARGS:-}'..."
# The crashing wheel leaves pip's cache, so the rebuilt one is cached in its place.
"$python" -m pip cache remove llama_cpp_python >/dev/null || true
"$python" -m pip install --force-reinstall --no-deps "llama-cpp-python==$version" || exit 1
exec "$python" scripts/check_local_model.py
