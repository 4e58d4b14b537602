# Shared by scripts/test, scripts/demo and scripts/bench: a Python virtualenv with moto's
# server, one moto server on a free loopback port for the whole run, and the services' own
# descriptions the stand-ins are checked against (GitHub's OpenAPI description, ECR's model).
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

ensure_moto() {
  # (Re)install when .venv lacks moto or was made from other pins than scripts/ has now.
  if ! "$VENV/bin/moto_server" --help >/dev/null 2>&1 \
    || ! cmp -s "$ROOT/scripts/requirements-test.txt" "$VENV/requirements-test.txt"; then
    local pins
    pins="$(grep -E '^[][a-z0-9_.-]+==' "$ROOT/scripts/requirements-test.txt" | paste -sd ' ' -)"
    echo "==> installing $pins into .venv (once: 317 MB, a minute or two)" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-test.txt" </dev/null
    cp "$ROOT/scripts/requirements-test.txt" "$VENV/requirements-test.txt"
  fi
  export MOTO_SERVER="$VENV/bin/moto_server"
}

start_moto() {
  local port
  port="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$MOTO_SERVER" -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/ecr-promote-moto-$port.log" 2>&1 &
  MOTO_PID=$!
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    if "$VENV/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      export ECR_PROMOTE_MOTO_URL="http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "moto_server did not start; see ${TMPDIR:-/tmp}/ecr-promote-moto-$port.log" >&2
  return 1
}

# GitHub's OpenAPI description as @octokit/openapi publishes it (api.github.com and GitHub
# Enterprise Server 3.17-3.19), pinned by version and by the registry's sha512 integrity.
OCTOKIT_OPENAPI_VERSION="23.0.2"
OCTOKIT_OPENAPI_INTEGRITY="sha512-pV8M7L9GY23AybNvTmo2nyjmpmnt6+2sRE/tqr0ZLQcPS4lnw7u5eZGNmwRNkBC3D7gZXbFx5AHzLUVRBXGDhg=="

# Install the descriptions into .tools (once) and export where they are:
# ECR_PROMOTE_GITHUB_OPENAPI (a folder of api.github.com.json, ghes-3.NN.json) and
# ECR_PROMOTE_ECR_MODEL (botocore's ECR model, from the botocore pinned for moto in .venv).
ensure_references() {
  local dir="$ROOT/.tools/octokit-openapi-$OCTOKIT_OPENAPI_VERSION"
  if [ ! -f "$dir/package/generated/api.github.com.json" ]; then
    echo "==> installing GitHub's OpenAPI description (@octokit/openapi@$OCTOKIT_OPENAPI_VERSION, through npm) into .tools (once: 45 MB)" >&2
    command -v npm >/dev/null || { echo "npm is needed to fetch GitHub's OpenAPI description" >&2; return 1; }
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "@octokit/openapi@$OCTOKIT_OPENAPI_VERSION" </dev/null >/dev/null)
    local tarball="$tmp/octokit-openapi-$OCTOKIT_OPENAPI_VERSION.tgz"
    local integrity
    integrity="sha512-$("$VENV/bin/python" -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")"
    if [ "$integrity" != "$OCTOKIT_OPENAPI_INTEGRITY" ]; then
      echo "@octokit/openapi@$OCTOKIT_OPENAPI_VERSION: integrity $integrity, expected $OCTOKIT_OPENAPI_INTEGRITY" >&2
      rm -rf "$tmp"
      return 1
    fi
    mkdir -p "$dir.partial"
    tar -xzf "$tarball" -C "$dir.partial" package/package.json package/LICENSE \
      package/generated/api.github.com.json package/generated/ghes-3.17.json \
      package/generated/ghes-3.18.json package/generated/ghes-3.19.json
    rm -rf "$tmp" "$dir"
    mv "$dir.partial" "$dir"
  fi
  export ECR_PROMOTE_GITHUB_OPENAPI="$dir/package/generated"
  ECR_PROMOTE_ECR_MODEL="$("$VENV/bin/python" -c 'import glob, os, botocore; d = os.path.join(os.path.dirname(botocore.__file__), "data/ecr/2015-09-21"); print((glob.glob(d + "/service-2.json") + glob.glob(d + "/service-2.json.gz"))[0])')"
  export ECR_PROMOTE_ECR_MODEL
}
