#!/usr/bin/env bash
# Checks the public contract (proto/sourced/v1): `buf lint` (STANDARD), then `buf breaking`
# (the FILE rules of buf.yaml) of the working tree against an earlier version of it:
#
#   * on any branch or commit other than main's tip, when a `main` branch exists (local, or
#     origin/main in a CI checkout): against main;
#   * on main itself (main's tip checked out, as in CI's fresh clone of main): against the
#     previous commit, HEAD~1, so a contract change made on main is still compared with the
#     commit before it;
#   * with no main and no previous commit (a first commit, a depth-1 clone, or not a git
#     repository): lint only, and it says so.
#
# CONTRACT_AGAINST overrides the choice with any buf input, e.g.
#   CONTRACT_AGAINST='.git#tag=v1.2.0' bash scripts/check-contract.sh
#   CONTRACT_AGAINST='.git#ref=HEAD' bash scripts/check-contract.sh   # uncommitted edits only
# buf reads the repository itself (it clones `.git` into a temporary copy), so no checkout
# changes and untracked or uncommitted files are compared as they are in the working tree.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
buf=(npx --no-install buf)

"${buf[@]}" lint
echo "contract: buf lint passed"

# Every file of the contract sets the file options that let plain `protoc` generate code in each
# language without flags or buf's managed mode (issue 23). buf lint's PACKAGE_SAME_* rules
# (STANDARD) check that the files of sourced.v1 agree on each option they set; this checks
# that each file sets them all, and that java_outer_classname is the file's name + "Proto".
required=(csharp_namespace go_package java_multiple_files java_outer_classname java_package objc_class_prefix php_namespace ruby_package)
options_missing=0
for file in proto/sourced/v1/*.proto; do
  for option in "${required[@]}"; do
    if ! grep -Eq "^option ${option} = " "$file"; then
      echo "contract: $file does not set option $option" >&2
      options_missing=1
    fi
  done
  outer="$(basename "$file" .proto | perl -pe 's/(^|_)(\w)/\U$2/g')Proto"
  grep -Eq "^option java_outer_classname = \"${outer}\";" "$file" || { echo "contract: $file: java_outer_classname must be \"$outer\"" >&2; options_missing=1; }
done
[ "$options_missing" -eq 0 ] || exit 1
echo "contract: every file sets ${required[*]}"

against="${CONTRACT_AGAINST:-}"
described="${CONTRACT_AGAINST:+CONTRACT_AGAINST=$CONTRACT_AGAINST}"
if [ -z "$against" ] && git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -d .git ]; then
  head="$(git rev-parse -q --verify 'HEAD^{commit}' || true)"
  main=""
  if main="$(git rev-parse -q --verify 'refs/heads/main^{commit}')"; then
    main_input='.git#branch=main'
    main_name='branch main'
  elif main="$(git rev-parse -q --verify 'refs/remotes/origin/main^{commit}')"; then
    # A CI checkout of a pull request often has no local main, only origin/main.
    main_input=".git#ref=$main"
    main_name='origin/main'
  fi
  if [ -n "$main" ] && [ -n "$head" ] && [ "$head" != "$main" ]; then
    against="$main_input"
    described="$main_name (${main:0:12})"
  elif previous="$(git rev-parse -q --verify 'HEAD~1^{commit}')"; then
    against='.git#ref=HEAD~1'
    tip=""
    [ -n "$main" ] && tip=", the tip of main"
    described="the previous commit HEAD~1 (${previous:0:12}; HEAD is ${head:0:12}$tip)"
  fi
fi

if [ -z "$against" ]; then
  why="not a git repository"
  if [ -n "${head:-}" ]; then
    why="no previous commit to compare with"
    [ -n "${main:-}" ] && why="HEAD is the tip of main and has no previous commit here (a shallow clone? fetch at least depth 2)"
    [ -z "${main:-}" ] && why="no main branch and no previous commit"
  fi
  echo "contract: buf breaking skipped: $why (CONTRACT_AGAINST selects another base)"
  exit 0
fi
echo "contract: buf breaking against $described: $against"
# The FILE rules also flag a file option that was never set getting its first value (issue 23
# gave every file go_package, java_package, ...: before that, consumers chose them with buf's
# managed mode or protoc flags, and nothing changes on the wire). Such a finding, from "" (or
# java_multiple_files from "false" to "true", managed mode's value) to a value, is reported and
# allowed; changing or removing a value that was set stays breaking, as does everything else.
report="$("${buf[@]}" breaking --against "$against" --error-format json || true)"
if [ -z "$report" ]; then
  echo "contract: no breaking change against $described"
  exit 0
fi
if printf '%s\n' "$report" | node -e '
  const lines = require("node:fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
  let breaking = 0;
  for (const line of lines) {
    let f;
    try { f = JSON.parse(line); } catch { console.error(line); breaking++; continue; }
    const where = `${f.path}:${f.start_line}:${f.start_column}`;
    const adopted = /^FILE_SAME_/.test(f.type) && (/ changed from "" to "[^"]+"\.$/.test(f.message) || (f.type === "FILE_SAME_JAVA_MULTIPLE_FILES" && / from "false" to "true"\.$/.test(f.message)));
    if (adopted) console.log(`contract: allowed (a file option set for the first time): ${where}: ${f.message}`);
    else { console.error(`${where}: ${f.message} (${f.type})`); breaking++; }
  }
  process.exit(breaking ? 1 : 0);
'; then
  echo "contract: no breaking change against $described (file options set for the first time only)"
else
  echo "contract: BREAKING CHANGES against $described (see above). If intended, this is a new package version (sourced.v2), not an edit of v1." >&2
  exit 1
fi
